"""The JSONL trajectory: every event but streamed tokens, one line each, flushed as it happens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ValidationError
from qcode.agent.events import EVENT, Event, TokenStreamed

__all__ = ["TrajectoryWriter", "load_events", "read_trajectory"]


class TrajectoryWriter:
    """An event subscriber that appends records to `path`; usable as a context manager."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")
        if _ends_mid_line(path):  # a process killed mid-write: the next record starts a new line
            self._file.write("\n")

    def __call__(self, event: BaseModel) -> None:
        if self._file is None or isinstance(event, TokenStreamed):
            return
        self._file.write(event.model_dump_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as raw:
        if raw.seek(0, 2) == 0:
            return False
        raw.seek(-1, 2)
        return raw.read(1) != b"\n"


def read_trajectory(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_events(path: Path) -> list[Event]:
    """The typed events of a trajectory, in order. A line that is not a known event is skipped: a
    record type from a newer qcode, or the half-written last line of a process killed mid-write."""
    events: list[Event] = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                events.append(EVENT.validate_json(line))
            except ValidationError:
                continue
    return events
