"""A session: config, a private copy of the repo, a sandbox, a trajectory — and the result.

The user's checkout is never modified: the only write to their repository is the new branch,
fetched from the session's host-only git dir after the run.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from qcode.agent.contracts import Engine, Sandbox, Usage
from qcode.agent.events import EventBus, Notice, RunFinished, SessionStarted
from qcode.agent.exceptions import QcodeError, TerminatingError
from qcode.agent.loop import AgentLoop, LoopLimits, LoopOutcome
from qcode.agent.overview import repo_overview
from qcode.agent.trajectory import TrajectoryWriter
from qcode.agent.workspace import RepoInfo, Workspace, inspect_repo, slugify, unique_branch
from qcode.prompts import render
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext

__all__ = ["RunResult", "Session", "SessionOptions"]

Status = Literal["resolved", "unresolved", "error"]
SandboxFactory = Callable[[Path, str], Sandbox]
"""(workspace folder, session id) → a started sandbox."""


class SessionOptions(BaseModel):
    task: str
    repo: Path
    state_dir: Path
    limits: LoopLimits = Field(default_factory=LoopLimits)
    command_timeout: float = 120.0
    verify_command: str | None = None
    patch_out: Path | None = None
    keep_workspace: bool = False


class RunResult(BaseModel):
    """What `qcode fix --json` prints."""

    status: Status
    reason: str
    branch: str | None = None
    commit: str | None = None
    patch: str | None = None
    steps: int = 0
    usage: Usage = Field(default_factory=Usage)
    trajectory: str = ""
    session_id: str = ""
    summary: str = ""
    verify: dict[str, Any] | None = None


class Session:
    def __init__(self, options: SessionOptions, engine: Engine, sandbox_factory: SandboxFactory,
                 bus: EventBus | None = None) -> None:
        self.options, self.engine, self.sandbox_factory = options, engine, sandbox_factory
        self.bus = bus or EventBus()
        self.repo: RepoInfo = inspect_repo(options.repo)
        self.id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        self.folder = options.state_dir / "sessions" / self.id
        self.trajectory_path = self.folder / "trajectory.jsonl"
        self.branch = unique_branch(self.repo.root, f"qcode/{slugify(options.task)}")
        self.workspace = Workspace(self.folder, self.repo)

    def run(self) -> RunResult:
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        with TrajectoryWriter(self.trajectory_path) as writer:
            self.bus.subscribe(writer)
            try:
                result = self._run()
            finally:
                if not self.options.keep_workspace:
                    self.workspace.remove()
            self.bus.emit(RunFinished(**result.model_dump(exclude={"session_id", "verify"}),
                                      duration=time.monotonic() - started))
        return result

    def _run(self) -> RunResult:
        self.workspace.create(self.branch)
        self.bus.emit(SessionStarted(session_id=self.id, repo=str(self.repo.root), base_commit=self.repo.head,
                                     branch=self.branch, workspace=str(self.workspace.path),
                                     trajectory=str(self.trajectory_path), task=self.options.task,
                                     engine=self.engine.name))
        if self.repo.dirty:
            self.bus.emit(Notice(level="warning", text="the repository has uncommitted changes; qcode works "
                                 "from HEAD and leaves your changes untouched"))
        sandbox = self.sandbox_factory(self.workspace.path, self.id)
        try:
            loop = self._loop(sandbox)
            try:
                outcome = loop.run(self._task_prompt())
            except TerminatingError as err:
                return self._conclude(loop.outcome(), err.status, str(err), sandbox)
            return self._conclude(outcome, "resolved", "finished", sandbox)
        finally:
            sandbox.close()

    def _loop(self, sandbox: Sandbox) -> AgentLoop:
        ctx = ToolContext(workspace=self.workspace.path, sandbox=sandbox, diff=self.workspace.diff,
                          command_timeout=self.options.command_timeout)
        return AgentLoop(self.engine, default_registry(), ctx, self.bus, self.options.limits)

    def _task_prompt(self) -> str:
        overview = repo_overview(self.workspace.path, self.workspace.tracked_files())
        return render("task", task=self.options.task, overview=overview.text, file_count=overview.file_count,
                      instructions=overview.instructions, instructions_file=overview.instructions_file)

    def _conclude(self, outcome: LoopOutcome, status: Status, reason: str, sandbox: Sandbox) -> RunResult:
        result = RunResult(status=status, reason=reason, steps=outcome.steps, usage=outcome.usage,
                           trajectory=str(self.trajectory_path), session_id=self.id, summary=outcome.summary)
        if status == "resolved" and self.options.verify_command:
            result.verify = self._verify(sandbox)
            if result.verify["exit_code"] != 0:
                result.status, result.reason = "unresolved", (
                    f"verification failed: `{self.options.verify_command}` exited {result.verify['exit_code']}")
        try:
            self._commit(result)
        except QcodeError as err:
            result.status, result.reason = "error", f"could not commit the result: {err}"
        return result

    def _verify(self, sandbox: Sandbox) -> dict[str, Any]:
        command = self.options.verify_command or ""
        outcome = sandbox.exec(command, timeout=self.options.command_timeout)
        self.bus.emit(Notice(level="info" if outcome.exit_code == 0 else "warning",
                             text=f"verify `{command}`: exit {outcome.exit_code}"))
        return {"command": command, "exit_code": outcome.exit_code, "output": outcome.output[-2000:]}

    def _commit(self, result: RunResult) -> None:
        title = self.options.task.strip().splitlines()[0][:72] if self.options.task.strip() else "qcode"
        body = result.summary.strip() or result.reason
        commit = self.workspace.commit(f"qcode: {title}\n\n{body}\n")
        if commit is None:
            if result.status == "resolved":
                result.status, result.reason = "unresolved", "finished without changing any file"
            return
        self.workspace.publish(commit, self.branch)
        patch_path = self.options.patch_out or self.folder / "result.patch"
        patch_path.parent.mkdir(parents=True, exist_ok=True)
        patch_path.write_text(self.workspace.patch(commit), encoding="utf-8")
        result.branch, result.commit, result.patch = self.branch, commit, str(patch_path)
