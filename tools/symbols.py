"""Definitions and references of a name, from the repo map's tag index.

`find_symbol` ranks the index's definitions of a bare name or `Class.method`; `references`
ranks the files whose tags reference the name, then finds the lines in the top few with the same
tag query. The index is the repo map's cache: files changed since it was built (the session's
edits) are re-parsed on the next call, the rest are read from the cache. Read-only, host side:
files are read through the race-safe reader and never executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import tree_sitter as ts
from qcode.agent.exceptions import ToolError
from qcode.tools import paths
from qcode.tools.repomap.languages import language_for, load
from qcode.tools.repomap.tags import Definition, FileTags
from rapidfuzz import fuzz, process

__all__ = ["SymbolName", "parse_name", "rank_definitions", "rank_reference_files", "reference_lines"]

MAX_DEFINITIONS = 20
MAX_REF_FILES = 12
MAX_REF_LINES = 8
"""Lines shown per file; the count says how many more there are."""
MAX_REF_BYTES = 1_000_000
_NAME = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*[!?]?$")
_DEF_KINDS = {"class": 0, "interface": 0, "type": 0, "function": 0, "method": 0, "enum": 1}


@dataclass(frozen=True)
class SymbolName:
    name: str
    scope: str
    """The enclosing class (`Cart` of `Cart.total`); '' for a bare name."""

    def __str__(self) -> str:
        return f"{self.scope}.{self.name}" if self.scope else self.name


def parse_name(text: str) -> SymbolName:
    """`total`, `Cart.total`, `pkg.Cart.total`, `Cart::total` or `Cart#total`."""
    text = text.strip()
    if not _NAME.match(text):
        raise ToolError(
            f"`{text[:80]}` is not a symbol name; send an identifier such as `total` or `Cart.total` "
            "(use `search` for other text)."
        )
    parts = re.split(r"\.|::|#", text)
    return SymbolName(parts[-1], parts[-2] if len(parts) > 1 else "")


def in_scope_of(path: str, under: str) -> bool:
    return under in ("", ".") or path == under or path.startswith(under.rstrip("/") + "/")


def is_test_path(path: str) -> bool:
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else ""
    return (
        any(p in ("test", "tests", "testing", "__tests__", "spec") for p in parts[:-1])
        or name.startswith("test_")
        or re.search(r"(_test|\.test|\.spec|_spec|Test|Tests)\.\w+$", name) is not None
    )


def rank_definitions(
    tags: dict[str, FileTags], symbol: SymbolName, under: str = ""
) -> tuple[list[tuple[str, Definition]], bool]:
    """Definitions of the name, best first, and whether the scope matched (False: any class)."""
    found = [
        (path, d)
        for path, file_tags in tags.items()
        if in_scope_of(path, under)
        for d in file_tags.defs
        if d.name == symbol.name
    ]
    scoped = [(p, d) for p, d in found if d.scope == symbol.scope] if symbol.scope else found
    exact = bool(scoped) or not symbol.scope
    chosen = scoped or found

    def key(item: tuple[str, Definition]) -> tuple[Any, ...]:
        path, d = item
        return (is_test_path(path), _DEF_KINDS.get(d.kind, 2), path.count("/"), path, d.line)

    return sorted(chosen, key=key), exact


def suggestions(tags: dict[str, FileTags], symbol: SymbolName, limit: int = 5) -> list[str]:
    """Close qualified names from the index, for a name it does not define."""
    names = {f"{d.scope}.{d.name}" if d.scope else d.name for t in tags.values() for d in t.defs}
    picks = process.extract(
        str(symbol), list(names)[:200_000], scorer=fuzz.WRatio, limit=limit, score_cutoff=75
    )
    return [name for name, _score, _i in picks]


def rank_reference_files(
    tags: dict[str, FileTags], symbol: SymbolName, under: str = ""
) -> list[tuple[str, int]]:
    """(path, uses) of files referencing the name: those that also name the scope first, then by uses."""
    hits = [
        (
            path,
            t.refs[symbol.name],
            bool(symbol.scope) and symbol.scope in t.refs or _defines(t, symbol.scope),
        )
        for path, t in tags.items()
        if in_scope_of(path, under) and t.refs.get(symbol.name)
    ]
    hits.sort(key=lambda h: (not h[2], -h[1], h[0]))
    return [(path, uses) for path, uses, _ in hits]


def _defines(tags: FileTags, scope: str) -> bool:
    return bool(scope) and any(d.name == scope for d in tags.defs)


def reference_lines(root: Path, path: str, name: str) -> list[tuple[int, str]]:
    """(1-based line, text) where the file references `name`, by the same tag query as the index."""
    language = language_for(path)
    grammar = load(language) if language else None
    source = _read(root, path)
    if grammar is None or source is None:
        return []
    tree = ts.Parser(grammar.language).parse(source)
    captures = ts.QueryCursor(grammar.query).captures(tree.root_node)
    def_starts = {n.start_byte for c, nodes in captures.items() if c.startswith("def.") for n in nodes}
    wanted = name.encode()
    rows = sorted(
        {
            n.start_point.row
            for n in captures.get("ref", ())
            if n.start_byte not in def_starts and source[n.start_byte : n.end_byte] == wanted
        }
    )
    lines = source.split(b"\n")
    return [(row + 1, lines[row].decode("utf-8", "replace").strip()[:160]) for row in rows]


def _read(root: Path, path: str) -> bytes | None:
    try:
        with paths.open_in_workspace(root, path, "rb") as handle:
            data = handle.read(MAX_REF_BYTES + 1)
    except (ToolError, OSError):
        return None
    return data if len(data) <= MAX_REF_BYTES else None


def render_definitions(
    items: Iterable[tuple[str, Definition]], total: int
) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    data: list[dict[str, Any]] = []
    for path, d in list(items)[:MAX_DEFINITIONS]:
        qualified = f"{d.scope}.{d.name}" if d.scope else d.name
        out.append(f"{path}:{d.line + 1}: {d.text.strip()}  [{d.kind} {qualified}]")
        data.append({"path": path, "line": d.line + 1, "kind": d.kind, "name": d.name, "scope": d.scope})
    if total > MAX_DEFINITIONS:
        out.append(f"[{total - MAX_DEFINITIONS} more definitions; narrow with path=]")
    return "\n".join(out), data
