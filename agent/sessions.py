"""Past sessions: their metadata, and the conversation rebuilt from a trajectory for a resume."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel, ValidationError
from qcode.agent.contracts import Message, PlanStep
from qcode.agent.conversation import EventLog
from qcode.agent.events import PlanUpdated
from qcode.agent.exceptions import GitError, UserError
from qcode.agent.trajectory import load_events
from qcode.agent.workspace import run_git
from qcode.sandbox.reaper import owner_alive, owner_label

__all__ = [
    "SessionMeta",
    "history_from_trajectory",
    "list_sessions",
    "load_meta",
    "new_meta",
    "repo_root",
    "save_meta",
    "with_live_status",
]

META_FILE = "session.json"
MAX_LISTED = 200
"""Sessions a listing returns at most (the newest)."""
MAX_META_BYTES = 1 << 20
"""A session.json larger than this is not read (it holds a task text and a few ids)."""


class SessionMeta(BaseModel):
    id: str
    repo: str
    base_commit: str
    branch: str
    task: str
    status: str = "running"
    """The last run's status: running, resolved, unresolved, error or interrupted (the run was
    stopped by Ctrl-C, SIGTERM or a broken pipe, or its process is gone)."""
    owner: str | None = None
    """`host:pid:start time` of the process running the session now (see sandbox.reaper)."""
    tip: str | None = None
    """The session's latest commit on its branch."""
    created: float
    updated: float


def new_meta(session_id: str, repo: str, base_commit: str, branch: str, task: str) -> SessionMeta:
    """A new session's record, owned by this process."""
    now = time.time()
    return SessionMeta(
        id=session_id,
        repo=repo,
        base_commit=base_commit,
        branch=branch,
        task=task,
        created=now,
        updated=now,
        owner=owner_label(),
    )


def save_meta(folder: Path, meta: SessionMeta) -> None:
    meta.updated = time.time()
    tmp = folder / f".{META_FILE}.tmp"
    tmp.write_text(meta.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(folder / META_FILE)  # atomic: a reader never sees half a file


def load_meta(state_dir: Path, session_id: str) -> SessionMeta:
    path = state_dir / "sessions" / session_id / META_FILE
    if not path.is_file():
        raise UserError(f"no session {session_id!r} in {state_dir}; `qcode undo --list` shows the sessions")
    try:
        return SessionMeta.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError:
        raise UserError(f"{path} is damaged; that session cannot be resumed or undone") from None


def list_sessions(state_dir: Path, repo: Path | None = None, limit: int = MAX_LISTED) -> list[SessionMeta]:
    """Sessions newest first, at most `limit`; with `repo` (any folder inside a repository), only
    that repository's sessions. Damaged ones are skipped; a `running` session whose process is
    gone is reported `interrupted`."""
    root = repo_root(repo) if repo is not None else None
    found = []
    for path in (state_dir / "sessions").glob(f"*/{META_FILE}"):
        try:
            if path.stat().st_size > MAX_META_BYTES:
                continue
            meta = SessionMeta.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, OSError):
            continue
        if root is None or Path(meta.repo) == root:
            found.append(with_live_status(meta))
    return sorted(found, key=lambda m: m.updated, reverse=True)[:limit]


def repo_root(folder: Path) -> Path:
    """The top folder of the git repository holding `folder`; `folder` itself when it is none."""
    try:
        return Path(run_git(["rev-parse", "--show-toplevel"], folder).strip())
    except (GitError, OSError):
        return folder.resolve()


def with_live_status(meta: SessionMeta) -> SessionMeta:
    """`meta`, marked `interrupted` when it says `running` but no live process runs it (killed with
    SIGKILL, power loss, or written by a qcode that did not record its process)."""
    if meta.status == "running" and (meta.owner is None or not owner_alive(meta.owner)):
        return meta.model_copy(update={"status": "interrupted"})
    return meta


def history_from_trajectory(path: Path) -> tuple[list[Message], list[PlanStep]]:
    """The user/assistant/tool messages of a session, in order (compaction applied), and its
    latest plan: what a resumed loop derives from the same events (see agent/conversation.py)."""
    events = load_events(path)
    log = EventLog("")
    log.extend(events)
    plans = [event.plan for event in events if isinstance(event, PlanUpdated)]
    return log.messages()[1:], list(plans[-1]) if plans else []
