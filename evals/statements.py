"""Issue text a user could have written from a failing behaviour: where it happens, a snippet
that shows it and the error it gives. Never the diff, never a test's name.

Input is pytest's `--tb=short` output of the buggy code; pure functions, tested directly.
"""

from __future__ import annotations

import random
import re

__all__ = ["failure_sections", "problem_statement", "public_symbol"]

_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)
_END = re.compile(
    r"^(=+ short test summary info|-+ Captured |=+ \d+ (failed|passed)|=+ warnings summary)", re.M
)
_LOCATION = re.compile(r"^\S+:\d+: in \S+$")

_OPENINGS = [
    "{symbol} gives a wrong result in some cases.",
    "I think {symbol} has a bug.",
    "Something is off with {symbol}.",
    "{symbol} does not behave as documented.",
]
_CLOSINGS = [
    "This used to work. Could you fix it (without breaking anything else)?",
    "Expected: the documented behaviour. Please fix.",
    "Other uses seem affected too.",
    "",
]


def failure_sections(output: str) -> dict[str, str]:
    """pytest's failure sections by header (`Class.test_name[param]`), body as printed."""
    sections: dict[str, str] = {}
    headers = list(_HEADER.finditer(output))
    for index, header in enumerate(headers):
        stop = headers[index + 1].start() if index + 1 < len(headers) else len(output)
        body = output[header.end() : stop]
        end = _END.search(body)
        sections[header.group(1)] = body[: end.start()] if end else body
    return sections


def _snippet_and_error(body: str, hidden: set[str]) -> tuple[str, str]:
    """The first frame's code line (the reproducing call) and the `E` lines (the error)."""
    lines = body.strip("\n").splitlines()
    snippet = ""
    for index, line in enumerate(lines[:-1]):
        if _LOCATION.match(line) and not lines[index + 1].startswith("E "):
            snippet = lines[index + 1].strip()
            break
    error = [line[1:].strip() for line in lines if line.startswith("E ")]
    error = [line for line in error if line and not any(name in line for name in hidden)][:12]
    if any(name in snippet for name in hidden) or "(" not in snippet:
        snippet = ""  # a test's name, or a line that shows no call (`assert result == expected`)
    return snippet, "\n".join(error)


def public_symbol(module: str, function: str) -> str:
    """How a user would name the place: `module.Class.method` when public, else the module."""
    parts = [part for part in function.split(".") if part]
    while (
        parts and parts[-1].startswith("_") and not (parts[-1].startswith("__") and parts[-1].endswith("__"))
    ):
        parts.pop()
    if parts and parts[-1].startswith("__"):
        parts.pop()  # a dunder: name the class it belongs to
    if any(part.startswith("_") for part in parts):
        parts = []
    return f"`{module}.{'.'.join(parts)}`" if parts else f"the `{module}` module"


def problem_statement(module: str, function: str, output: str, failing: list[str], seed: str) -> str:
    """An issue for a bug in `function` of `module`, from the test `output` of the buggy code."""
    rng = random.Random(seed)
    hidden = {test.split("::")[-1].split("[")[0] for test in failing}
    wanted = {".".join(test.split("::")[1:]) for test in failing}
    sections = [body for name, body in failure_sections(output).items() if name in wanted]
    examples = [_snippet_and_error(body, hidden) for body in sections]
    examples = [example for example in examples if example[1]] or [("", "")]
    examples.sort(key=lambda example: ("self." in example[0], not example[0], len(example[1])))
    snippet, error = examples[0]
    symbol = public_symbol(module, function)
    parts = [
        rng.choice(_OPENINGS).format(symbol=symbol[0].upper() + symbol[1:] if symbol[0] != "`" else symbol)
    ]
    if snippet:
        parts.append(f"For example, this:\n\n```python\n{snippet}\n```")
    if error:
        parts.append(("which fails with:" if snippet else "I get:") + f"\n\n```\n{error}\n```")
    if len(failing) > 1:
        parts.append(f"I see the same kind of failure in {len(failing)} places in my code.")
    closing = rng.choice(_CLOSINGS)
    if closing:
        parts.append(closing)
    return "\n\n".join(parts) + "\n"
