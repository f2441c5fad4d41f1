"""Parsed tags on disk, so a rebuild re-parses only the files that changed.

Two keys, both explicit:
- `stamps` (root, path) → (mtime_ns, size, digest): the cheap check. A file whose mtime and
  size are unchanged is not even read.
- `blobs` digest → tags, where digest = BLAKE2b(content, language, TAGS_VERSION): content
  addressed, so a fresh copy of the same repository (new mtimes, as in every session
  workspace) costs one read and hash per file, not a parse.

Refresh policy: stamps are rewritten for files that changed and dropped for files that
vanished. Fallback: a store that sqlite cannot read is moved aside and rebuilt; a blob whose
checksum or shape is wrong counts as a miss; if nothing can be written the map is still built,
only without a cache, and `problem` says why.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qcode.tools.repomap.tags import TAGS_VERSION, FileTags

__all__ = ["TagCache", "Stamp", "content_digest", "default_cache_dir"]

Stamp = tuple[int, int, bytes]
"""(mtime_ns, size, digest)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stamps (root TEXT NOT NULL, path TEXT NOT NULL, mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL, digest BLOB NOT NULL, PRIMARY KEY (root, path));
CREATE TABLE IF NOT EXISTS blobs (digest BLOB PRIMARY KEY, data BLOB NOT NULL, check_sum BLOB NOT NULL);
"""
_FORMAT = f"repomap-tags-{TAGS_VERSION}"


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/qcode/repomap (~/.cache/qcode/repomap): outside every repository."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qcode" / "repomap"


def content_digest(content: bytes, language: str) -> bytes:
    return hashlib.blake2b(
        content, digest_size=16, person=f"{language}:{TAGS_VERSION}"[:16].encode()
    ).digest()


def _check_sum(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


class TagCache:
    """A sqlite store of tags; every method degrades to "no cache" instead of raising."""

    def __init__(self, directory: Path | None) -> None:
        self.problem = ""
        self._path = directory / "tags.sqlite" if directory is not None else None
        self._recovered = False
        self._db = self._open(self._path) if self._path is not None else None

    def _open(self, path: Path) -> sqlite3.Connection | None:
        for attempt in range(2):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
                db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + _SCHEMA)
                self._check_format(db)
                return db
            except sqlite3.DatabaseError as err:  # corrupt, not a database, or locked for too long
                if attempt == 0 and "locked" not in str(err):
                    self._move_aside(path)
                    continue
                self.problem = f"tag cache unusable ({err}); building without it"
            except OSError as err:
                self.problem = f"tag cache unusable ({err.strerror or err}); building without it"
                return None
        return None

    @staticmethod
    def _check_format(db: sqlite3.Connection) -> None:
        row = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        if row is None or row[0] != _FORMAT:  # older tags: drop them, they would be wrong now
            db.executescript("BEGIN; DELETE FROM stamps; DELETE FROM blobs; COMMIT;")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (_FORMAT,))

    def _move_aside(self, path: Path) -> None:
        self.problem = f"tag cache at {path} was corrupt; rebuilt it"
        for suffix in ("", "-wal", "-shm"):
            try:
                os.replace(f"{path}{suffix}", f"{path}{suffix}.corrupt")
            except OSError:
                pass

    def stamps(self, root: str) -> dict[str, Stamp]:
        rows = self._query("SELECT path, mtime_ns, size, digest FROM stamps WHERE root=?", (root,))
        return {path: (mtime, size, bytes(digest)) for path, mtime, size, digest in rows}

    def has_blobs(self, digests: Iterable[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        wanted = list(digests)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                bytes(d)
                for (d,) in self._query(f"SELECT digest FROM blobs WHERE digest IN ({marks})", tuple(chunk))
            )
        return found

    def load(self, root: str) -> dict[str, FileTags]:
        """Tags of every stamped file of `root`; entries that fail their checksum are left out."""
        rows = self._query(
            "SELECT s.path, b.data, b.check_sum FROM stamps s JOIN blobs b ON s.digest = b.digest "
            "WHERE s.root=?",
            (root,),
        )
        loaded: dict[str, FileTags] = {}
        for path, data, check_sum in rows:
            if _check_sum(data) != check_sum:
                continue
            try:
                loaded[path] = FileTags.from_record(marshal.loads(data))
            except (ValueError, TypeError, EOFError):
                continue
        return loaded

    def store(
        self, root: str, stamps: dict[str, Stamp], blobs: dict[bytes, FileTags], gone: Iterable[str]
    ) -> None:
        if self._db is None:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)",
                    [
                        (d, data, _check_sum(data))
                        for d, data in ((d, marshal.dumps(t.to_record())) for d, t in blobs.items())
                    ],
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO stamps VALUES (?, ?, ?, ?, ?)",
                    [(root, p, m, s, d) for p, (m, s, d) in stamps.items()],
                )
                self._db.executemany("DELETE FROM stamps WHERE root=? AND path=?", [(root, p) for p in gone])
                if blobs:
                    self._prune()
        except sqlite3.DatabaseError as err:
            self._recover(err)

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._db is None:
            return []
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as err:
            self._recover(err)
            return []

    def _recover(self, err: sqlite3.DatabaseError) -> None:
        """A store that broke after opening (torn pages, a truncated file): start a new one, once."""
        self.problem = f"tag cache unreadable ({err}); re-parsing"
        if self._recovered or self._path is None or "locked" in str(err):
            return
        self._recovered = True
        self.close()
        self._move_aside(self._path)
        self._db = self._open(self._path)

    def _prune(self) -> None:
        """Forget workspaces that no longer exist, then blobs no stamp points at."""
        assert self._db is not None
        roots = [r for (r,) in self._db.execute("SELECT DISTINCT root FROM stamps") if not os.path.isdir(r)]
        self._db.executemany("DELETE FROM stamps WHERE root=?", [(r,) for r in roots])
        self._db.execute("DELETE FROM blobs WHERE digest NOT IN (SELECT digest FROM stamps)")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> TagCache:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
