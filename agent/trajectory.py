"""The JSONL trajectory: every event but streamed tokens, one line each, flushed as it happens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel
from qcode.agent.events import TokenStreamed

__all__ = ["TrajectoryWriter", "read_trajectory"]


class TrajectoryWriter:
    """An event subscriber that appends records to `path`; usable as a context manager."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

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


def read_trajectory(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
