"""The warm engine's log: everything the daemon and vLLM write to stdout/stderr, capped and rotated."""

from __future__ import annotations

import io
import os
import threading
from contextlib import suppress
from pathlib import Path

__all__ = ["LOG_MAX", "capture_output", "tail"]

LOG_MAX = 4 * 1024 * 1024
"""Bytes of one log file; one older file is kept (`engine.log.1`), so at most twice this on disk."""


def _rotate(path: Path) -> None:
    if path.exists() and path.stat().st_size > 0:
        os.replace(path, path.with_name(path.name + ".1"))


def capture_output(path: Path, limit: int = LOG_MAX) -> None:
    """Point this process's stdout and stderr (and so vLLM's worker processes') into a pipe that a
    thread copies into `path`, starting a new file whenever one reaches `limit` bytes."""
    _rotate(path)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    threading.Thread(target=_copy, args=(read_end, path, limit), name="engine-log", daemon=True).start()


def _copy(read_end: int, path: Path, limit: int) -> None:
    """Copies the engine's output into the capped log. A failing write (disk full) drops what it
    could not write but keeps reading: a pipe nobody reads would block the engine's next print."""
    out: io.FileIO | None = None
    written = 0
    while chunk := os.read(read_end, 1 << 16):
        try:
            if out is None:
                out = _open(path)
                written = out.tell()
            while chunk:
                if written >= limit:
                    out.close()
                    _rotate(path)
                    out, written = _open(path), 0
                piece, chunk = chunk[: limit - written], chunk[limit - written :]
                out.write(piece)
                written += len(piece)
        except OSError:
            if out is not None:
                with suppress(OSError):
                    out.close()
            out = None  # try again with the next chunk
    if out is not None:
        out.close()


def _open(path: Path) -> io.FileIO:
    """Append, private to the user (prompts can appear in vLLM's warnings)."""
    return io.FileIO(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600), "ab")


def tail(path: Path, lines: int = 200, max_bytes: int = 256 * 1024) -> str:
    """The last `lines` lines of the log (reading at most `max_bytes` from its end)."""
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - max_bytes))
        data = handle.read(max_bytes)
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])
