"""The lint tier: a per-file-pattern command run IN THE SANDBOX, parsed into problems.

Commands come from the user's or the repository's config (`lint_commands`) over the defaults
below; a repository may set them because they only ever run in the sandbox, under a time cap,
in a subshell so the model's persistent shell keeps its folder. The defaults need nothing beyond
the sandbox image (Python's own compile check, which writes no .pyc) and call ruff, pyflakes,
tsc or go vet only when the sandbox has them.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import PurePosixPath

from qcode.agent.contracts import Sandbox
from qcode.tools.diagnostics import MAX_PROBLEMS, Problem

__all__ = ["DEFAULT_LINT_COMMANDS", "command_for", "parse_lint_output", "run_lint"]

_PY_COMPILE = (
    "python3 -c 'import sys\n"
    'try: compile(open(sys.argv[1], "rb").read(), sys.argv[1], "exec")\n'
    'except SyntaxError as e: print(f"{sys.argv[1]}:{e.lineno or 1}: {e.msg}")\' {file}'
)
DEFAULT_LINT_COMMANDS: dict[str, str] = {
    "*.py": _PY_COMPILE
    + "; if command -v ruff >/dev/null 2>&1; then ruff check --no-cache --quiet --output-format=concise "
    "{file}; elif python3 -c 'import pyflakes' 2>/dev/null; then python3 -m pyflakes {file}; fi",
    "*.ts": "if [ -x node_modules/.bin/tsc ]; then node_modules/.bin/tsc --noEmit --pretty false "
    "$( [ -f tsconfig.json ] && echo '-p .' || echo {file} ); fi",
    "*.go": "if command -v go >/dev/null 2>&1; then go vet ./$(dirname {file}); fi",
}
"""Pattern (fnmatch on the file name, or on the path when it holds a '/') → command; {file} is
the shell-quoted path relative to /workspace."""

_COLON = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+)(?::\d+)?:?\s*(?P<msg>.+)$")
_PAREN = re.compile(r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),\d+\):\s*(?P<msg>.+)$")  # tsc
_EXIT_MARK = "qcode-lint-exit:"
_MAX_LINES = 2000
"""Output lines parsed: a linter that prints without end must not cost unbounded time."""


def command_for(path: str, commands: dict[str, str]) -> tuple[str, str] | None:
    """(pattern, command) of the first pattern matching `path`, user's order; None when none does."""
    name = PurePosixPath(path).name
    for pattern, command in commands.items():
        target = path if "/" in pattern else name
        if fnmatch.fnmatchcase(target, pattern) and command.strip():
            return pattern, command
    return None


def run_lint(sandbox: Sandbox, path: str, pattern: str, command: str, timeout: float) -> list[Problem] | str:
    """The command's problems for `path`, or a one-line note when it could not give an answer."""
    script = command.replace("{file}", shlex.quote(path))
    seconds = max(1, round(timeout))
    # coreutils `timeout` ends the linter before the sandbox's own limit would restart the shell.
    # The subshell always ends with a successful echo: a model's `set -e` in its shell must not
    # turn a linter's non-zero exit into a dead shell. The marker carries the real exit code.
    run = f"timeout -k 2 {seconds} sh -c {shlex.quote(script)}"
    wrapped = f'(set +e; cd /workspace && {run}; echo "{_EXIT_MARK}$?") 2>&1'
    result = sandbox.exec(wrapped, timeout=timeout + 10)
    if result.timed_out or f"{_EXIT_MARK}124" in result.output[-200:]:
        return f"lint `{pattern}` took longer than {seconds}s; skipped"
    return parse_lint_output(result.output, path, pattern)


def parse_lint_output(output: str, path: str, source: str = "lint") -> list[Problem]:
    """`file:line[:col]: message` and tsc's `file(line,col): message` lines about `path`."""
    found: list[Problem] = []
    for raw in output.splitlines()[:_MAX_LINES]:
        match = _PAREN.match(raw.strip()) or _COLON.match(raw.strip())
        if match is None or _normal(match["file"]) != _normal(path):
            continue
        found.append(Problem(int(match["line"]), match["msg"].strip()[:300], source))
        if len(found) >= MAX_PROBLEMS:
            break
    return found


def _normal(path: str) -> str:
    path = path.strip().removeprefix("/workspace/")
    return str(PurePosixPath(path)).removeprefix("./")
