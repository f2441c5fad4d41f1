"""`qcode undo` for a finished session: rewind its checkpoints and commit the result on its branch."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from qcode.agent.checkpoints import Checkpoints, describe
from qcode.agent.exceptions import UserError
from qcode.agent.sessions import load_meta, save_meta, with_live_status
from qcode.agent.workspace import Workspace, inspect_repo

__all__ = ["UndoOutcome", "undo_session"]


class UndoOutcome(BaseModel):
    session_id: str
    branch: str
    changed: bool
    """Whether the undo made a commit; a no-op says so in `message` and has no commit or diffstat."""
    commit: str | None = None
    """The new commit on the branch (absent when the undo changed nothing)."""
    restored_to: str
    diffstat: str | None = None
    message: str


def undo_session(state_dir: Path, session_id: str, steps: int = 1) -> UndoOutcome:
    """Restore a session's workspace `steps` changes back and commit that state on its branch.

    History is kept: the undo is a new commit on top, so it can itself be reverted."""
    if steps < 1:
        raise UserError("--steps must be at least 1")
    meta = load_meta(state_dir, session_id)
    if with_live_status(meta).status == "running":  # its sandbox works in that workspace right now
        raise UserError(f"session {meta.id} is still running ({meta.owner}); close it first, then undo")
    repo = inspect_repo(Path(meta.repo))
    repo.head = meta.base_commit
    folder = state_dir / "sessions" / meta.id
    workspace = Workspace(folder, repo)
    checkpoints = Checkpoints(workspace)
    if checkpoints.latest() is None:
        raise UserError(f"session {meta.id} changed no files; there is nothing to undo")
    workspace.remove()
    workspace.create(meta.branch)  # what resuming does: a fresh copy at the newest checkpoint
    try:
        latest = checkpoints.restore_latest()
        assert latest is not None  # the refs live in host.git, which create() leaves as it was
        workspace.tip = meta.tip
        target, stat = checkpoints.rewind(steps, latest.step + 1)
        where = describe(target)
        commit = workspace.commit(f"qcode: undo the last {steps} change(s)\n\nRestored to {where}.\n")
        if commit is not None:
            workspace.publish(commit, meta.branch)
            meta.tip = commit
            save_meta(folder, meta)
        if commit is None:
            return UndoOutcome(
                session_id=meta.id,
                branch=meta.branch,
                changed=False,
                restored_to=where,
                message=f"nothing to undo: the branch already holds {where}",
            )
        return UndoOutcome(
            session_id=meta.id,
            branch=meta.branch,
            changed=True,
            commit=commit,
            restored_to=where,
            diffstat=stat,
            message=f"restored to {where}",
        )
    finally:
        workspace.remove()


def undo_note(where: str, diffstat: str, shown: int = 4) -> str:
    """An undo in words: where the workspace is now and which files changed (from a diffstat)."""
    lines = [line for line in diffstat.splitlines() if line.strip()]
    if not lines:
        return f"nothing changed: the workspace was already at {where}"
    names = [line.split("|", 1)[0].strip() for line in lines[:-1] if "|" in line]
    listed = ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
    return f"back at {where}: {listed} ({lines[-1].strip()})"
