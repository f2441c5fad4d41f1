"""stdlib logging for qcode: one capped file per session folder, level from --log-level or QCODE_LOG.

What happens before a session folder exists (settings, engine start) is held in a small buffer and
written to the session's file once it is known. Every `qcode.*` logger feeds it; nothing goes to
the terminal (the front doors own it).
"""

from __future__ import annotations

import collections
import io
import logging
import logging.handlers
import os
from pathlib import Path

from qcode.agent.exceptions import UserError

__all__ = ["LOG_FILE", "MAX_BYTES", "BACKUPS", "configure", "log_to_session", "resolve_level"]

LOG_FILE = "qcode.log"
MAX_BYTES = 1_000_000
"""One log file's cap; with BACKUPS rotated copies a session's logs stay under ~3 MB."""
BACKUPS = 2
PENDING = 500
"""Records kept from before the session folder is known (the oldest are dropped past it)."""
LEVELS = ("debug", "info", "warning", "error")
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
"""The thread says which session a line is from when an eval runs several in one process."""

_root = logging.getLogger("qcode")
_root.addHandler(logging.NullHandler())  # a library user who configured nothing sees nothing
_root.propagate = False


class _Pending(logging.Handler):
    """Holds the last PENDING records until a session file takes them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: collections.deque[logging.LogRecord] = collections.deque(maxlen=PENDING)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _SessionFile(logging.handlers.RotatingFileHandler):
    """The session's capped log file; its folder is made on the first record."""

    def _open(self) -> io.TextIOWrapper:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def resolve_level(flag: str | None) -> int:
    """The flag beats QCODE_LOG; the default is info. A bad name is bad input (one line, exit 2)."""
    value = (flag or os.environ.get("QCODE_LOG") or "info").strip().lower()
    if value not in LEVELS:
        raise UserError(f"bad log level {value!r} (--log-level or QCODE_LOG); use one of {', '.join(LEVELS)}")
    return int(getattr(logging, value.upper()))


def configure(level: int) -> None:
    """Set the level and start holding records for the session file (front doors call it once)."""
    _root.setLevel(level)
    if not any(isinstance(h, (_Pending, _SessionFile)) for h in _root.handlers):
        _root.addHandler(_Pending())


def log_to_session(folder: Path) -> Path:
    """Write qcode's log to `folder`/qcode.log from now on (the previous session's file is closed),
    with what was held so far. Returns the file's path."""
    path = folder / LOG_FILE
    handler = _SessionFile(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(_FORMAT))
    held: list[logging.LogRecord] = []
    for old in list(_root.handlers):
        if isinstance(old, _Pending):
            held.extend(old.records)
        if isinstance(old, (_Pending, _SessionFile)):
            _root.removeHandler(old)
            old.close()
    _root.addHandler(handler)
    for record in held:
        handler.handle(record)
    return path
