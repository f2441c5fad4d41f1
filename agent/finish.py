"""The finish stage of a run: verify → commit on the session's branch → patch, as one typed result.

Runs after the loop ended (by `finish`, a limit or an error). The status may only get worse here:
a failed verification makes a resolved run unresolved, a run that changed nothing is unresolved,
and a commit that fails is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from qcode.agent.contracts import Sandbox
from qcode.agent.events import EventBus, Notice
from qcode.agent.exceptions import QcodeError
from qcode.agent.untrusted import for_commit
from qcode.agent.workspace import Workspace

__all__ = ["FinishStage", "Finished", "Status", "Verification", "commit_subject", "SUBJECT_LIMIT"]

Status = Literal["resolved", "unresolved", "error"]
SUBJECT_LIMIT = 64
"""Characters of the task in a commit subject (after `qcode: `; git's convention is ~72 in all)."""
VERIFY_OUTPUT = 2000
"""Characters of the verify command's output kept in the result (its tail)."""


class Verification(BaseModel):
    command: str
    exit_code: int | None
    output: str
    """The tail of the command's output."""


class Finished(BaseModel):
    """The run's outcome after verification and commit."""

    status: Status
    reason: str
    verify: Verification | None = None
    branch: str | None = None
    commit: str | None = None
    patch: str | None = None


@dataclass
class FinishStage:
    workspace: Workspace
    sandbox: Sandbox
    bus: EventBus
    branch: str
    patch_path: Path
    verify_command: str | None = None
    command_timeout: float = 120.0

    def run(self, status: Status, reason: str, task: str, summary: str) -> Finished:
        """Verify (only a resolved run), then commit the work titled after `task`, then the patch."""
        result = Finished(status=status, reason=reason)
        if status == "resolved" and self.verify_command:
            result.verify = self._verify(self.verify_command)
            if result.verify.exit_code != 0:
                result.status = "unresolved"
                result.reason = (
                    f"verification failed: `{self.verify_command}` exited {result.verify.exit_code}"
                )
        try:
            self._commit(result, task, summary)
        except QcodeError as err:
            result.status, result.reason = "error", f"could not commit the result: {err}"
        return result

    def _verify(self, command: str) -> Verification:
        outcome = self.sandbox.exec(command, timeout=self.command_timeout)
        text = f"verify `{command}`: exit {outcome.exit_code}"
        self.bus.emit(Notice(level="info" if outcome.exit_code == 0 else "warning", text=text))
        return Verification(
            command=command, exit_code=outcome.exit_code, output=outcome.output[-VERIFY_OUTPUT:]
        )

    def _commit(self, result: Finished, task: str, summary: str) -> None:
        body = summary.strip() or result.reason
        commit = self.workspace.commit(f"qcode: {for_commit(commit_subject(task))}\n\n{for_commit(body)}\n")
        if commit is None:
            if result.status == "resolved" and self.workspace.tip is None:
                result.status, result.reason = "unresolved", "finished without changing any file"
            commit = self.workspace.tip
            if commit is None:
                return
        else:
            self.workspace.publish(commit, self.branch)
        self.patch_path.parent.mkdir(parents=True, exist_ok=True)
        self.workspace.write_patch(commit, self.patch_path)  # streamed: never the whole patch in memory
        result.branch, result.commit, result.patch = self.branch, commit, str(self.patch_path)


def commit_subject(task: str, limit: int = SUBJECT_LIMIT) -> str:
    """The first line of `task`, cut at a word boundary to fit `limit` characters (with `…`)."""
    line = next((part.strip() for part in task.splitlines() if part.strip()), "")
    line = " ".join(line.split())
    if not line:
        return "qcode"
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return (cut if len(cut) >= limit // 2 else line[: limit - 1]) + "…"
