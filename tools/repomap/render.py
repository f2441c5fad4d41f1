"""The map as text: ranked files, each with its key signatures, fitted to a token budget.

    django/db/models/query.py
      291│class QuerySet(AltersData):
     1541│    def select_related(self, *fields):

Line numbers are 1-based so they can go straight into read_file's start_line. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from qcode.tools.repomap.tags import Definition, FileTags

__all__ = ["estimate_tokens", "render_file", "fit_to_budget", "PER_FILE"]

PER_FILE = 12
"""Signatures shown per file at most; the task's own definitions are always among them."""

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """About 3.5 characters per token for code with Qwen-style BPE tokenizers: slightly generous."""
    return math.ceil(len(text) / 3.5)


def key_definitions(
    path: str,
    tags: FileTags,
    def_rank: Mapping[tuple[str, str], float],
    focus_defs: set[tuple[str, str]],
    limit: int = PER_FILE,
) -> list[Definition]:
    """The `limit` most telling definitions of a file, with the classes that hold them, in file order."""
    ordered = sorted(
        tags.defs,
        key=lambda d: ((path, d.name) not in focus_defs, -def_rank.get((path, d.name), 0.0), d.line),
    )
    chosen = ordered[:limit]
    scopes = {d.scope for d in chosen if d.scope}
    picked = {id(d) for d in chosen}
    for definition in tags.defs:  # the enclosing class line gives a method its context
        if definition.name in scopes and definition.kind != "method" and id(definition) not in picked:
            chosen.append(definition)
            picked.add(id(definition))
            scopes.discard(definition.name)
    return sorted(chosen, key=lambda d: d.line)


def render_file(path: str, defs: Sequence[Definition]) -> str:
    lines = [path]
    lines.extend(f"{d.line + 1:>6}│{d.text}" for d in defs)
    return "\n".join(lines) + "\n"


def fit_to_budget(
    ranked: Sequence[str],
    tags: Mapping[str, FileTags],
    def_rank: Mapping[tuple[str, str], float],
    focus_defs: set[tuple[str, str]],
    budget: int,
    count_tokens: TokenCounter = estimate_tokens,
) -> tuple[str, list[str]]:
    """Whole file blocks in rank order while they fit; the first that does not fit is cut to
    as many of its top signatures as fit (binary search on that count)."""
    blocks: list[str] = []
    files: list[str] = []
    used = 0
    for path in ranked:
        defs = key_definitions(path, tags[path], def_rank, focus_defs)
        block = render_file(path, defs)
        cost = count_tokens(block)
        if used + cost <= budget:
            blocks.append(block)
            files.append(path)
            used += cost
            continue
        partial = _largest_fitting(path, tags[path], def_rank, focus_defs, budget - used, count_tokens)
        if partial:
            blocks.append(partial)
            files.append(path)
        break
    return "".join(blocks), files


def _largest_fitting(
    path: str,
    tags: FileTags,
    def_rank: Mapping[tuple[str, str], float],
    focus_defs: set[tuple[str, str]],
    room: int,
    count_tokens: TokenCounter,
) -> str:
    if room <= count_tokens(path + "\n"):
        return ""
    low, high, best = 0, min(PER_FILE, len(tags.defs)), path + "\n"
    while low <= high:
        middle = (low + high) // 2
        text = render_file(path, key_definitions(path, tags, def_rank, focus_defs, middle))
        if count_tokens(text) <= room:
            best, low = text, middle + 1
        else:
            high = middle - 1
    return best
