"""Small, realistic bugs from the AST: each mutation replaces one span of the source text, so the
diff (and the gold patch that reverts it) is as small as a human slip.

Kinds: a flipped comparison, an off-by-one integer, a removed `if` branch, a flipped boolean
constant, a swapped `and`/`or`, a swapped `+`/`-`. Only code inside functions is mutated.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["Mutation", "find_mutations"]

_FLIP = {
    ast.Lt: "<=",
    ast.LtE: "<",
    ast.Gt: ">=",
    ast.GtE: ">",
    ast.Eq: "!=",
    ast.NotEq: "==",
    ast.Is: "is not",
    ast.IsNot: "is",
    ast.In: "not in",
    ast.NotIn: "in",
}
_OP_TEXT = {
    ast.Lt: r"<(?!=)",
    ast.LtE: r"<=",
    ast.Gt: r">(?!=)",
    ast.GtE: r">=",
    ast.Eq: r"==",
    ast.NotEq: r"!=",
    ast.Is: r"\bis\b(?!\s+not\b)",
    ast.IsNot: r"\bis\s+not\b",
    ast.In: r"(?<!not )\bin\b",
    ast.NotIn: r"\bnot\s+in\b",
}
_SKIPPED_FUNCTIONS = {"__repr__", "__str__", "__hash__", "__init_subclass__"}


@dataclass(frozen=True)
class Mutation:
    """One candidate bug: replace source[start:end] of `path` with `replacement`."""

    path: str
    kind: str
    line: int
    start: int
    end: int
    replacement: str
    function: str
    """Qualified name of the enclosing function, e.g. `LRUCache.popitem`."""
    original: str

    @property
    def key(self) -> str:
        return f"{self.path}:{self.line}:{self.kind}:{self.start}"

    def apply(self, source: str) -> str:
        if source[self.start : self.end] != self.original:
            raise ValueError(f"{self.key}: the source changed since the mutation was found")
        return source[: self.start] + self.replacement + source[self.end :]


class _Offsets:
    """(line, UTF-8 byte column) → character offset in the source."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def at(self, line: int, col: int) -> int:
        text = self.lines[line - 1]
        return self.starts[line - 1] + len(text.encode("utf-8")[:col].decode("utf-8", "replace"))


def find_mutations(path: str, source: str) -> list[Mutation]:
    """Every mutation site in one module, in source order; [] if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    finder = _Finder(path, source)
    finder.visit(tree)
    return sorted(finder.found, key=lambda m: (m.start, m.kind))


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, source: str) -> None:
        self.path, self.source, self.offsets = path, source, _Offsets(source)
        self.scope: list[str] = []
        self.in_function = 0
        self.found: list[Mutation] = []

    def _add(self, kind: str, node: ast.expr | ast.stmt, start: int, end: int, replacement: str) -> None:
        if self.in_function:
            self.found.append(
                Mutation(
                    self.path,
                    kind,
                    node.lineno,
                    start,
                    end,
                    replacement,
                    ".".join(self.scope),
                    self.source[start:end],
                )
            )

    def _span(self, node: ast.expr | ast.stmt) -> tuple[int, int]:
        return (
            self.offsets.at(node.lineno, node.col_offset),
            self.offsets.at(node.end_lineno or node.lineno, node.end_col_offset or 0),
        )

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in _SKIPPED_FUNCTIONS:
            return
        self.scope.append(node.name)
        self.in_function += 1
        self._removable_branches(node.body)
        for statement in node.body:  # decorators and defaults are left alone
            self.visit(statement)
        self.in_function -= 1
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assert(self, node: ast.Assert) -> None:
        """Assertions are not behaviour; leave them."""

    def visit_Compare(self, node: ast.Compare) -> None:
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            start, end = self._span(left)[1], self._span(right)[0]
            matches = list(re.finditer(_OP_TEXT[type(op)], self.source[start:end]))
            if len(matches) == 1:
                match = matches[0]
                self._add(
                    "flipped comparison", node, start + match.start(), start + match.end(), _FLIP[type(op)]
                )
            left = right
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        swap = {ast.Add: ("+", "-"), ast.Sub: ("-", "+")}.get(type(node.op))
        if swap:
            start, end = self._span(node.left)[1], self._span(node.right)[0]
            gap = self.source[start:end]
            if gap.count(swap[0]) == 1 and "\n" not in gap:
                at = start + gap.index(swap[0])
                self._add("wrong arithmetic operator", node, at, at + 1, swap[1])
        for side in (node.left, node.right):
            self._off_by_one(side)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        parts = [node.slice.lower, node.slice.upper] if isinstance(node.slice, ast.Slice) else [node.slice]
        for part in parts:
            if part is not None:
                self._off_by_one(part)
        self.generic_visit(node)

    def _off_by_one(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 64:
            start, end = self._span(node)
            self._add("off-by-one", node, start, end, str(node.value + 1))

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, bool):
            start, end = self._span(node)
            self._add("wrong constant", node, start, end, str(not node.value))

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        word, other = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        start, end = self._span(node.values[0])[1], self._span(node.values[1])[0]
        matches = list(re.finditer(rf"\b{word}\b", self.source[start:end]))
        if len(matches) == 1 and len(node.values) == 2:
            self._add(
                "swapped boolean operator", node, start + matches[0].start(), start + matches[0].end(), other
            )
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for field in ("body", "orelse", "finalbody"):
            self._removable_branches(getattr(node, field, None))
        super().generic_visit(node)

    def _removable_branches(self, body: object) -> None:
        """An `if` without `else` whose removal leaves a non-empty block."""
        if not isinstance(body, list) or len(body) < 2:
            return
        for statement in body:
            if not isinstance(statement, ast.If) or statement.orelse:
                continue
            line = self.offsets.lines[statement.lineno - 1]
            if not line.lstrip().startswith("if ") or "TYPE_CHECKING" in line or "__name__" in line:
                continue
            end_line, end_col = statement.end_lineno or statement.lineno, statement.end_col_offset or 0
            tail = self.offsets.lines[end_line - 1][end_col:]
            if tail.strip() and not tail.strip().startswith("#"):
                continue
            start = self.offsets.starts[statement.lineno - 1]
            end = self.offsets.starts[statement.end_lineno]  # type: ignore[index]
            self._add("removed branch", statement, start, end, "")
