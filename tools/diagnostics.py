"""Problems in a file's text, and which of them a change introduced. Pure: no I/O.

The syntax tier reads tree-sitter's ERROR and MISSING nodes for every language the repo map knows.
A change is judged by comparing the problems before and after it as a multiset of
(message, stripped line content): lines shift when code is added above a problem, their content
does not, so a problem the file already had is never blamed on the change.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import tree_sitter as ts
from qcode.tools.empty_blocks import MESSAGE as EMPTY_BLOCK
from qcode.tools.empty_blocks import Span, emptied_blocks, empty_blocks, span_of
from qcode.tools.repomap.languages import language_for, load

__all__ = [
    "MAX_CHECK_BYTES",
    "Parsed",
    "Problem",
    "ProblemKey",
    "SyntaxResult",
    "introduced",
    "problem_keys",
    "render_problems",
    "syntax_check",
    "syntax_problems",
]

MAX_CHECK_BYTES = 1_000_000
"""Larger files are not checked (the repo map skips them too)."""
MAX_PROBLEMS = 50
"""Problems collected per file: a file of garbage has thousands of error nodes."""
MAX_LEAVES = 50_000
"""Nodes walked to find unclosed brackets, per file: a file of garbage must not cost seconds."""
SHOWN = 5
"""Problems shown to the model per file; the rest are counted."""
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}

ProblemKey = tuple[str, str]
"""(message, stripped content of the problem's line): stable when lines shift."""


@dataclass(frozen=True)
class Problem:
    line: int
    """1-based."""
    message: str
    source: str = "syntax"
    """`syntax`, or the linter's command pattern."""
    hint: str = ""
    """Shown, never compared: it may name other line numbers, which shift."""


Parsed = tuple[bytes, ts.Tree]
"""A file's bytes and their tree, kept so the next check re-parses only what changed."""
CALLBACK_FROM = 256_000
"""Sources this large are parsed through a read callback, the only way tree-sitter honours a deadline;
smaller ones as plain bytes, twice as fast and bounded by their size."""


class SyntaxResult(NamedTuple):
    problems: list[Problem] | None
    """tree-sitter's error and missing nodes; None when the file was not checked."""
    parsed: Parsed | None
    """The parse to give the next check of the same file."""
    emptied: list[Problem]
    """Python blocks this change left empty (only known when there was a previous parse)."""


def syntax_problems(text: str, path: str, deadline: float | None = None) -> list[Problem] | None:
    """tree-sitter's view of `text` as the language of `path`; None when no grammar covers it."""
    return syntax_check(text, path, None, deadline).problems


def syntax_check(
    text: str, path: str, previous: Parsed | None = None, deadline: float | None = None
) -> SyntaxResult:
    """Problems of `text`, and its parse for the next call: given the previous parse of the same
    file, tree-sitter re-parses only the changed region (a millisecond instead of tens)."""
    language = language_for(path)
    grammar = load(language) if language else None
    source = text.encode("utf-8", "surrogateescape")
    if grammar is None or len(source) > MAX_CHECK_BYTES:
        return SyntaxResult(None, None, [])
    span = span_of(previous[0], source) if previous is not None else None
    old_rows: list[int] = []
    if previous is not None and span is not None:
        if language == "python":  # before the old tree is edited: its rows still match its bytes
            old_rows = empty_blocks(grammar.language, previous[1], previous[0], span[0], span[1])
        _record_edit(previous[1], previous[0], source, span)
    seconds = deadline if deadline is not None else 0.5 + len(source) / 250_000  # 1 MB: 4.5 s
    tree = _parse(grammar.language, source, previous[1] if previous else None, seconds)
    if tree is None:  # the deadline cancelled it: say nothing rather than something wrong
        return SyntaxResult(None, None, [])
    found: list[Problem] = []
    if tree.root_node.has_error:
        _collect(tree.root_node, source, found)
    emptied: list[Problem] = []
    if language == "python" and previous is not None and span is not None:
        rows = emptied_blocks(grammar.language, previous, (source, tree), span, old_rows)
        emptied = [Problem(row + 1, EMPTY_BLOCK) for row in rows[:MAX_PROBLEMS]]
    return SyntaxResult(found, (source, tree), emptied)


def _parse(language: ts.Language, source: bytes, old_tree: ts.Tree | None, deadline: float) -> ts.Tree | None:
    parser = ts.Parser(language)
    if len(source) < CALLBACK_FROM:
        return parser.parse(source, old_tree) if old_tree is not None else parser.parse(source)
    until = time.monotonic() + deadline
    view = memoryview(source)
    try:

        def read(offset: int, _point: ts.Point) -> memoryview:
            return view[offset : offset + 65536]

        def give_up(_offset: int, _has_error: bool) -> bool:
            return time.monotonic() > until

        if old_tree is not None:
            return parser.parse(read, old_tree, progress_callback=give_up)
        return parser.parse(read, progress_callback=give_up)
    except ValueError:
        return None


def _record_edit(tree: ts.Tree, old: bytes, new: bytes, span: Span) -> None:
    """Tell `tree` (of `old`) which bytes differ in `new`."""
    start, old_end, new_end = span
    tree.edit(
        start_byte=start,
        old_end_byte=old_end,
        new_end_byte=new_end,
        start_point=_point(old, start),
        old_end_point=_point(old, old_end),
        new_end_point=_point(new, new_end),
    )


def _point(source: bytes, offset: int) -> tuple[int, int]:
    row = source.count(b"\n", 0, offset)
    return row, offset - (source.rfind(b"\n", 0, offset) + 1)


def _collect(node: ts.Node, source: bytes, found: list[Problem]) -> None:
    """Depth first, only into subtrees that hold an error; an ERROR node is one problem."""
    stack = [node]
    budget = [MAX_LEAVES]  # leaves looked at for brackets, over all the file's errors
    while stack and len(found) < MAX_PROBLEMS:
        current = stack.pop()
        if current.is_missing:
            found.append(_describe_missing(current, source))
        elif current.is_error:
            found.append(_describe_error(current, source, budget))
        elif current.has_error:
            stack.extend(reversed(current.children))


def _describe_missing(node: ts.Node, source: bytes) -> Problem:
    hint = ""
    parent = node.parent
    opener = _CLOSERS.get(node.type)
    if opener and parent is not None and parent.child_count and parent.children[0].type == opener:
        hint = f"to close the `{opener}` on line {parent.start_point.row + 1}"
    return Problem(node.start_point.row + 1, f"missing `{node.type}`", hint=hint)


def _describe_error(node: ts.Node, source: bytes, budget: list[int]) -> Problem:
    """An unclosed bracket inside the error is the likeliest cause; else the first unexpected token."""
    stack: list[ts.Node] = []
    first: ts.Node | None = None
    for leaf in _leaves(node, budget):
        text = source[leaf.start_byte : leaf.end_byte].decode("utf-8", "replace")
        first = first or leaf
        if text in _OPENERS:
            stack.append(leaf)
        elif text in _CLOSERS and stack:
            opener = source[stack[-1].start_byte : stack[-1].end_byte].decode()
            if _OPENERS[opener] == text:
                stack.pop()
    if stack:
        opener_node = stack[-1]
        opener = source[opener_node.start_byte : opener_node.end_byte].decode()
        return Problem(opener_node.start_point.row + 1, f"`{opener}` is never closed")
    start = first or node
    token = source[start.start_byte : start.end_byte].decode("utf-8", "replace").split("\n")[0][:40]
    return Problem(start.start_point.row + 1, f"syntax error near `{token}`" if token else "syntax error")


def _leaves(node: ts.Node, budget: list[int]) -> Iterable[ts.Node]:
    stack = [node]
    while stack and budget[0] > 0:
        current = stack.pop()
        budget[0] -= 1
        if current.child_count == 0:
            yield current
        else:
            stack.extend(reversed(current.children))


def problem_keys(problems: Iterable[Problem], lines: Sequence[str]) -> Counter[ProblemKey]:
    return Counter((p.message, _line(lines, p.line).strip()) for p in problems)


def introduced(before: Counter[ProblemKey], after: Sequence[Problem], lines: Sequence[str]) -> list[Problem]:
    """The problems of `after` that `before` does not account for (each old one excuses one new)."""
    budget = Counter(before)
    new: list[Problem] = []
    for problem in after:
        key = (problem.message, _line(lines, problem.line).strip())
        if budget[key] > 0:
            budget[key] -= 1
        else:
            new.append(problem)
    return new


def render_problems(path: str, problems: Sequence[Problem], lines: Sequence[str], context: int = 2) -> str:
    """`path:line: message` and a few numbered lines around it, for at most SHOWN problems."""
    out: list[str] = []
    for problem in sorted(problems, key=lambda p: p.line)[:SHOWN]:
        hint = f" ({problem.hint})" if problem.hint else ""
        out.append(f"{path}:{problem.line}: {problem.message}{hint}{_by(problem)}")
        first = max(1, problem.line - context)
        last = min(len(lines), problem.line + context)
        for number in range(first, last + 1):
            mark = ">" if number == problem.line else " "
            out.append(f"{mark}{number:>5}\t{_line(lines, number)[:200]}")
    if len(problems) > SHOWN:
        out.append(f"[{len(problems) - SHOWN} more problems in {path}]")
    return "\n".join(out)


def _by(problem: Problem) -> str:
    return "" if problem.source == "syntax" else f" [{problem.source}]"


def _line(lines: Sequence[str], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""
