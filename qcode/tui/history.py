"""Past sessions for the resume picker, and a past conversation rebuilt from its trajectory.

The picker lists only the current repository's sessions: resuming one of another repository would
switch repositories silently. A session still marked `running` whose process is gone shows as
`interrupted`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from qcode.agent.events import Event, SessionStarted, UserMessage
from qcode.agent.sessions import list_sessions

if TYPE_CHECKING:
    from qcode.tui.app import QcodeApp

__all__ = [
    "REPLAY_CAP",
    "REPLAY_EVENTS",
    "SessionList",
    "SessionRow",
    "past_events",
    "sessions_of",
    "show_past",
]

REPLAY_CAP = 4_000_000
"""Bytes of a trajectory read after a resume: a long session shows its most recent part."""
REPLAY_EVENTS = 400
"""Events shown after a resume, at most (each becomes a widget or more)."""
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass(frozen=True)
class SessionRow:
    id: str
    status: str
    task: str

    def label(self) -> str:
        task = " ".join(self.task.split())
        return f"{self.id}  {self.status} · {task[:60] + ('…' if len(task) > 60 else '')}"


@dataclass(frozen=True)
class SessionList:
    rows: list[SessionRow]
    hidden: int
    """Sessions of other repositories, not listed."""


def sessions_of(state_dir: Path, repo_root: Path) -> SessionList:
    """The sessions of the repository at `repo_root` (its top level), newest first."""
    every = list_sessions(state_dir)
    root = repo_root.resolve()
    mine = [meta for meta in every if Path(meta.repo).resolve() == root]
    # list_sessions already reads a `running` session whose recorded process is gone as interrupted
    rows = [SessionRow(meta.id, meta.status, meta.task) for meta in mine]
    return SessionList(rows, len(every) - len(mine))


def past_events(path: Path, cap: int = REPLAY_CAP) -> tuple[list[object], bool]:
    """The events of a trajectory, at most its last `cap` bytes; True when earlier ones were left out.

    A damaged or unknown line is skipped: the rest of the conversation is still worth showing."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - cap))
            data = handle.read(cap)
    except OSError:
        return [], False
    lines = data.split(b"\n")
    cut = size > cap
    if cut:
        lines = lines[1:]  # the first line is a fragment
    events = _parse(lines)
    return events[-REPLAY_EVENTS:], cut or len(events) > REPLAY_EVENTS


def _parse(lines: Sequence[bytes]) -> list[object]:
    events: list[object] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            events.append(_EVENT.validate_python(json.loads(line)))
        except (ValueError, ValidationError):
            continue
    return events


def show_past(app: QcodeApp, events: Sequence[object], cut: bool) -> None:
    """Put a resumed session's conversation on screen, as it looked live: the person's messages,
    the model's turns, the tool cards, the plan, each run's end."""
    with app.batch_update():  # one screen update at the end, not one per widget
        _show_past(app, events, cut)


def _show_past(app: QcodeApp, events: Sequence[object], cut: bool) -> None:
    conversation = app.conversation
    if cut:
        conversation.add_note("(earlier history not shown: a resumed session shows its most recent part)")
    prompt_pending = False  # the first run's task reaches the model wrapped in a long prompt
    started = False
    for event in events:
        if isinstance(event, SessionStarted):
            if not started:
                conversation.add_user(event.task)
            started, prompt_pending = True, not started
        elif isinstance(event, UserMessage):
            if prompt_pending:
                prompt_pending = False
            elif event.text.startswith("qcode notice:"):
                conversation.add_note(event.text)
            else:
                conversation.add_user(event.text)
        else:
            app.show_event(event)
