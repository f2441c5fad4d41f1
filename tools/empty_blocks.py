"""Python blocks an edit left empty (`if x:` with its body deleted): tree-sitter's Python grammar
accepts them, CPython refuses them ("expected an indented block").

Looked for only around the changed bytes, before and after the change, with the tag-free query
`(block)` limited to that byte range: a whole-file query costs as much as a parse.
"""

from __future__ import annotations

import functools
from collections import Counter

import tree_sitter as ts

__all__ = ["MESSAGE", "Span", "emptied_blocks", "empty_blocks", "span_of"]

MESSAGE = "expected an indented block"

Span = tuple[int, int, int]
"""(start, old_end, new_end): the one changed byte span between two versions of a file."""


def span_of(old: bytes, new: bytes) -> Span:
    start = _common_prefix(old, new)
    limit = min(len(old), len(new)) - start
    tail = _common_prefix(old[::-1][:limit], new[::-1][:limit])
    return start, len(old) - tail, len(new) - tail


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix, by halving (slice compares run in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def empty_blocks(language: ts.Language, tree: ts.Tree, source: bytes, start: int, end: int) -> list[int]:
    """0-based rows of empty blocks within a line of [start, end] (a block sits at its header's end)."""
    before = source.rfind(b"\n", 0, start)  # the line before the change, and its own start
    lo = 0 if before < 0 else source.rfind(b"\n", 0, before) + 1
    after = source.find(b"\n", end)  # the line after the change, and its own end
    hi = -1 if after < 0 else source.find(b"\n", after + 1)
    cursor = ts.QueryCursor(_query(language))
    cursor.set_byte_range(lo, max(lo, len(source) if hi < 0 else hi))
    blocks = cursor.captures(tree.root_node).get("block", [])
    return sorted({b.start_point.row for b in blocks if all(c.type == "comment" for c in b.named_children)})


def emptied_blocks(
    language: ts.Language,
    old: tuple[bytes, ts.Tree],
    new: tuple[bytes, ts.Tree],
    span: Span,
    old_rows: list[int],
) -> list[int]:
    """Rows (0-based) of empty blocks in the changed region of `new` that the same region of `old`
    (`old_rows`, found before the old tree was edited) did not have, matched by line content."""
    start, _old_end, new_end = span
    new_source, new_tree = new
    old_split, new_split = old[0].split(b"\n"), new_source.split(b"\n")  # once: not per block row
    old_lines = Counter(_line(old_split, row) for row in old_rows)
    rows = []
    for row in empty_blocks(language, new_tree, new_source, start, new_end):
        content = _line(new_split, row)
        if old_lines[content] > 0:
            old_lines[content] -= 1
        else:
            rows.append(row)
    return rows


def _line(lines: list[bytes], row: int) -> bytes:
    return lines[row].strip() if row < len(lines) else b""


@functools.cache
def _query(language: ts.Language) -> ts.Query:
    return ts.Query(language, "(block) @block")
