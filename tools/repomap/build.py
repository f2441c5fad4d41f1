"""Build a repo map: list files → tags (cache, else parse) → rank → render.

Host side and read-only: files are read, never executed, and the cache lives outside the
repository. Files whose tags are not cached are parsed in worker processes (see worker.py).
"""

from __future__ import annotations

import contextlib
import gc
import os
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qcode.agent.exceptions import ToolError, UserError
from qcode.tools.paths import open_in_workspace
from qcode.tools.repomap.cache import Stamp, TagCache, content_digest, default_cache_dir
from qcode.tools.repomap.discover import list_source_files
from qcode.tools.repomap.focus import parse_focus
from qcode.tools.repomap.rank import rank_files
from qcode.tools.repomap.render import TokenCounter, estimate_tokens, fit_to_budget
from qcode.tools.repomap.tags import FileTags, tags_for
from qcode.tools.repomap.worker import parse_isolated

__all__ = ["RepoMap", "build_repo_map", "load_tags", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 1_000_000
"""Larger files are skipped unread: hand-written source is rarely this big."""
PARALLEL_FROM = 200
"""Parse in several worker processes when at least this many files need parsing."""
IN_PROCESS_UP_TO = 8
"""So few changed files are parsed in this process: starting a worker costs more than parsing them."""


@dataclass
class RepoMap:
    text: str
    files: list[str]
    """The files in the map, best first."""
    notes: list[str] = field(default_factory=list)
    """Skipped and partly parsed files, cache trouble: one line each."""
    stats: dict[str, float] = field(default_factory=dict)


def build_repo_map(
    root: Path,
    focus: str = "",
    tokens: int = 1024,
    cache_dir: Path | None = None,
    touched: Sequence[str] = (),
    *,
    count_tokens: TokenCounter = estimate_tokens,
    workers: int | None = None,
) -> RepoMap:
    """The files of `root` that matter most for `focus`, with their key signatures, in ≤ `tokens`."""
    with _gc_paused():
        return _build(Path(root), focus, tokens, cache_dir, touched, count_tokens, workers)


def load_tags(root: Path, cache_dir: Path | None = None) -> tuple[dict[str, FileTags], list[str]]:
    """The tag index of every source file (path → tags) and notes; files that changed since the
    last build, the session's edits included, are re-parsed, the rest come from the cache."""
    if not Path(root).is_dir():
        raise UserError(f"{root} is not a folder; pass the repository's root folder.")
    real = os.path.realpath(root)
    with _gc_paused():
        listing = list_source_files(Path(real))
        with TagCache(cache_dir if cache_dir is not None else default_cache_dir()) as cache:
            tags, _counts = _collect_tags(real, listing.files, cache, None)
            notes = listing.notes + ([cache.problem] if cache.problem else [])
    return tags, notes


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Tens of thousands of small acyclic records are loaded at once; the cyclic collector
    would rescan them over and over (a third of a warm build) and find nothing to free."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(
    root: Path,
    focus: str,
    tokens: int,
    cache_dir: Path | None,
    touched: Sequence[str],
    count_tokens: TokenCounter,
    workers: int | None,
) -> RepoMap:
    clock = _Clock()
    if not root.is_dir():
        raise UserError(f"{root} is not a folder; pass the repository's root folder.")
    real = os.path.realpath(root)
    listing = list_source_files(Path(real))
    clock.lap("list")
    with TagCache(cache_dir if cache_dir is not None else default_cache_dir()) as cache:
        tags, counts = _collect_tags(real, listing.files, cache, workers)
        notes = listing.notes + _notes(tags) + ([cache.problem] if cache.problem else [])
    clock.lap("tags")
    usable = {path: t for path, t in tags.items() if not t.note or t.defs or t.refs}
    ranking = rank_files(usable, parse_focus(focus), [t.removeprefix("./") for t in touched])
    clock.lap("rank")
    text, files = fit_to_budget(
        [p for p, _ in ranking.files], usable, ranking.def_rank, ranking.focus_defs, tokens, count_tokens
    )
    clock.lap("render")
    stats = {**counts, "files": len(listing.files), **clock.laps}
    return RepoMap(text, files, notes, stats)


class _Clock:
    """Seconds per phase, for `stats` (the benchmark and `qcode map --json` report them)."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[f"{name}_s"] = round(now - self.last, 4)
        self.laps["seconds"] = round(now - self.started, 4)
        self.last = now


def _collect_tags(
    root: str, files: dict[str, str], cache: TagCache, workers: int | None
) -> tuple[dict[str, FileTags], dict[str, int]]:
    """Tags for every file: from the cache when stamp or content digest match, else parsed."""
    known = cache.stamps(root)
    fresh: dict[str, Stamp] = {}
    stale: dict[str, tuple[int, int]] = {}
    for path in files:
        try:
            info = os.stat(os.path.join(root, path), follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):  # symlinks (and loops of them) are never followed
            continue
        stamp = known.get(path)
        if stamp is not None and stamp[:2] == (info.st_mtime_ns, info.st_size):
            fresh[path] = stamp
        else:
            stale[path] = (info.st_mtime_ns, info.st_size)
    new_stamps, contents = _read_stale(root, stale, files)
    cached_digests = cache.has_blobs({d for _, _, d in new_stamps.values()})
    todo = {
        p: contents[p] for p, (_, _, d) in new_stamps.items() if d not in cached_digests and p in contents
    }
    parsed = _parse_all(todo, files, workers)
    parsed.update({p: FileTags(note=_skip_note(stale[p][1])) for p in new_stamps if p not in contents})
    blobs = {new_stamps[p][2]: t for p, t in parsed.items()}
    cache.store(root, new_stamps, blobs, gone=[p for p in known if p not in files])
    tags = cache.load(root) if (fresh or cached_digests) else {}
    tags.update(parsed)
    missing = {p: _read(root, p) for p in files if p not in tags and (p in fresh or p in new_stamps)}
    if missing:  # checksum failures or a cache that broke: parse them again rather than lose them
        tags.update(_parse_all({p: c for p, c in missing.items() if c is not None}, files, workers))
    counts = {"parsed": len(parsed) + len(missing), "cached": len(tags) - len(parsed) - len(missing)}
    return {p: t for p, t in tags.items() if p in files}, counts


def _read_stale(
    root: str, stale: dict[str, tuple[int, int]], files: dict[str, str]
) -> tuple[dict[str, Stamp], dict[str, bytes]]:
    """Stamps (with content digests) for changed files, and their contents; large ones stay unread."""
    stamps: dict[str, Stamp] = {}
    contents: dict[str, bytes] = {}
    for path, (mtime, size) in stale.items():
        if size > MAX_FILE_BYTES:
            stamps[path] = (mtime, size, content_digest(f"large:{size}".encode(), files[path]))
            continue
        content = _read(root, path)
        if content is None:
            continue
        contents[path] = content
        stamps[path] = (mtime, size, content_digest(content, files[path]))
    return stamps, contents


def _read(root: str, path: str) -> bytes | None:
    """The file's bytes, opened one component at a time (the sandbox may be swapping folders for
    symlinks while the host reads); None when it cannot be read safely."""
    try:
        with open_in_workspace(Path(root), path, "rb") as handle:
            data: bytes = handle.read(MAX_FILE_BYTES + 1)
            return data
    except (ToolError, OSError):
        return None


def _skip_note(size: int) -> str:
    return f"larger than {MAX_FILE_BYTES // 1_000_000} MB ({size / 1e6:.0f} MB); skipped"


def _parse_all(todo: dict[str, bytes], files: dict[str, str], workers: int | None) -> dict[str, FileTags]:
    items = [(path, content, files[path]) for path, content in todo.items()]
    if len(items) <= IN_PROCESS_UP_TO:  # the every-step rebuild: a worker's start-up would dominate
        return {path: tags_for(content, language) for path, content, language in items}
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    return parse_isolated(items, workers if len(items) >= PARALLEL_FROM else 1)


def _notes(tags: dict[str, FileTags]) -> list[str]:
    """One line per kind of trouble, with a few example paths."""
    by_note: dict[str, list[str]] = {}
    for path, file_tags in sorted(tags.items()):
        if file_tags.note:
            kind = file_tags.note.split(" (")[0].split(";")[0]
            by_note.setdefault(kind, []).append(path)
    lines = []
    for kind, paths in sorted(by_note.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(paths[:3]) + (f", … (+{len(paths) - 3})" if len(paths) > 3 else "")
        lines.append(f"{len(paths)} file{'s' if len(paths) != 1 else ''}: {kind}: {shown}")
    return lines
