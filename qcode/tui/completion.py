"""What the prompt offers as you type: slash commands after a leading `/`, files after an `@`.

Pure functions over the text before the cursor, so each rule is tested without a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from qcode.tools.paths import rg_files

__all__ = ["MAX_LISTED_FILES", "Completion", "complete", "list_files"]

MAX_LISTED_FILES = 20_000
"""A huge repository offers its first files only: completion must not hold the whole tree in memory."""
SHOWN = 6
_AT_WORD = re.compile(r"(?:^|\s)@(\S*)$")


@dataclass(frozen=True)
class Completion:
    """Replace the text from column `start` to the cursor with one of `candidates` (best first)."""

    start: int
    candidates: tuple[str, ...]
    kind: str
    """"command" or "file"."""


def complete(before_cursor: str, commands: Iterable[str], files: Sequence[str]) -> Completion | None:
    """The completion for the current line up to the cursor, or None.

    `/he` on the first line offers `/help`; `see @sta` offers `@stats.py`. An exact, unique match
    offers nothing (there is nothing left to complete).
    """
    if before_cursor.startswith("/") and not any(c.isspace() for c in before_cursor):
        names = [f"/{name}" for name in commands if f"/{name}".startswith(before_cursor)]
        if names and names != [before_cursor]:
            return Completion(0, tuple(sorted(names)[:SHOWN]), "command")
        return None
    match = _AT_WORD.search(before_cursor.splitlines()[-1] if before_cursor else "")
    if match is None:
        return None
    fragment = match.group(1)
    line_start = len(before_cursor) - len(before_cursor.splitlines()[-1])
    start = line_start + match.start(1) - 1
    found = _match_files(fragment, files)
    if not found or fragment in files:  # nothing, or a whole file name already
        return None
    return Completion(start, tuple(f"@{path}" for path in found), "file")


def _match_files(fragment: str, files: Sequence[str]) -> list[str]:
    """Prefix matches first (shortest first), then substring, then fuzzy ones."""
    if not fragment:
        return sorted(files, key=len)[:SHOWN]
    prefix = sorted((f for f in files if f.startswith(fragment)), key=len)
    inner = sorted((f for f in files if fragment in f and not f.startswith(fragment)), key=len)
    found = (prefix + inner)[:SHOWN]
    if len(found) < SHOWN:
        fuzzy = process.extract(fragment, files, scorer=fuzz.partial_ratio, limit=SHOWN, score_cutoff=80)
        found += [name for name, _, _ in fuzzy if name not in found][: SHOWN - len(found)]
    return found


def list_files(root: Path, cap: int = MAX_LISTED_FILES) -> list[str]:
    """Files under `root` that git would not ignore (ripgrep's listing), at most `cap`, sorted."""
    if not root.is_dir():
        return []
    found = rg_files(root, timeout=5.0) or []
    return sorted(found[:cap])
