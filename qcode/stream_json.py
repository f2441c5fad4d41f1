"""`--output-format stream-json`: the loop's events as JSON lines, written as they happen.

One JSON object per line, each with `type` (the trajectory's record types, plus `delta` for a
streamed piece of a turn) and `v` (this schema's version). The last line of a run is
`{"type": "result", "v": 1, …}` whose other fields are exactly `--output-format json`'s object.
Only these lines go to stdout; the human progress view stays on stderr.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from qcode.agent.session import RunResult

__all__ = [
    "OUTPUT_FORMATS",
    "RESULT_FIELDS",
    "SCHEMA_VERSION",
    "EventFile",
    "OutputFormat",
    "StreamJsonWriter",
    "event_record",
    "result_payload",
    "result_record",
]

SCHEMA_VERSION = 1
"""Bumped when a field changes meaning or goes away; new fields and new types do not bump it."""
OutputFormat = Literal["text", "json", "stream-json"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("text", "json", "stream-json")
RESULT_FIELDS = frozenset(
    {
        "status",
        "reason",
        "branch",
        "commit",
        "patch",
        "steps",
        "usage",
        "trajectory",
        "session_id",
        "summary",
        "verify",
    }
)
"""The fields of `qcode fix --json` (and of the stream's `result` line)."""


def result_payload(result: RunResult) -> dict[str, Any]:
    """The `--json` object of a run."""
    payload: dict[str, Any] = result.model_dump(mode="json", include=set(RESULT_FIELDS))
    return payload


def event_record(event: Any) -> dict[str, Any] | None:
    """One event as a stream line: `type` and `v` first, then the event's own fields. A streamed
    token becomes a `delta` with its channel (reasoning, text or tool_call). Objects that are not
    events (no `type`) are skipped."""
    dump = getattr(event, "model_dump", None)
    if dump is None:
        return None
    fields: dict[str, Any] = dump(mode="json")
    kind = fields.pop("type", None)
    if not isinstance(kind, str):
        return None
    if kind == "token":
        kind = "delta"
    return {"type": kind, "v": SCHEMA_VERSION, **fields}


def result_record(result: RunResult) -> dict[str, Any]:
    return {"type": "result", "v": SCHEMA_VERSION, **result_payload(result)}


class StreamJsonWriter:
    """An event-bus subscriber writing one line per event to `out` (stdout), flushed at once so a
    reader sees each event while the run goes on. Thread-safe: engines stream from their own thread."""

    def __init__(self, out: IO[str] | None = None, deltas: bool = True) -> None:
        self.out = out if out is not None else sys.stdout
        self.deltas = deltas
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        record = event_record(event)
        if record is None or (record["type"] == "delta" and not self.deltas):
            return
        self.write(record)

    def result(self, result: RunResult) -> None:
        self.write(result_record(result))

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self.out.write(line)
            self.out.flush()


class EventFile(StreamJsonWriter):
    """The same lines into a file (an eval task's `events.jsonl`), without the token deltas: the
    turns carry their whole text. Closed by the caller."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path.open("w", encoding="utf-8"), deltas=False)

    def close(self) -> None:
        with self._lock:
            self.out.close()
