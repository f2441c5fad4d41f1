"""A session: config, a private copy of the repo, a sandbox, a trajectory — and the results.

A session holds one conversation. `run(task)` plans and executes until `finish` or a limit, then
verifies and commits on the session's branch; a later `run(follow_up)` continues the same history
and adds a commit on top. The user's checkout is never modified: the only write to their
repository is the branch, fetched from the session's host-only git dir.
"""

from __future__ import annotations

import secrets
import threading
import time
from contextlib import ExitStack, nullcontext, suppress

from qcode.agent.checkpoints import CLOSED_LABEL, Checkpoints, describe
from qcode.agent.contracts import Engine, Sandbox
from qcode.agent.events import EventBus, Notice, RolledBack, RunFinished, SessionStarted
from qcode.agent.exceptions import QcodeError, TerminatingError, UserError, error_line
from qcode.agent.extensions import Extensions
from qcode.agent.finish import FinishStage, Status, commit_subject
from qcode.agent.loop import AgentLoop, Approver, LoopOutcome
from qcode.agent.opening import opening_notices, task_prompt
from qcode.agent.recovery import Recovery
from qcode.agent.sandboxes import SandboxProvider
from qcode.agent.session_models import RunResult, SessionOptions
from qcode.agent.sessions import SessionMeta, new_meta, save_meta
from qcode.agent.trajectory import TrajectoryWriter, load_events
from qcode.agent.undo import undo_note
from qcode.agent.workspace import RepoInfo, Workspace, inspect_repo, slugify, unique_branch
from qcode.sandbox.reaper import owner_label
from qcode.tools.builtin import default_registry
from qcode.tools.checks import ChangeChecker
from qcode.tools.registry import ToolContext, ToolRegistry

__all__ = ["RunResult", "Session", "SessionOptions", "SandboxProvider", "commit_subject", "undo_note"]

_STOPPED = (KeyboardInterrupt, SystemExit, BrokenPipeError)
"""How a run is stopped from outside: Ctrl-C, SIGTERM (raised as KeyboardInterrupt), a closed pipe."""


class Session:
    def __init__(
        self,
        options: SessionOptions,
        engine: Engine,
        sandboxes: SandboxProvider,
        bus: EventBus | None = None,
        approver: Approver | None = None,
        resume: SessionMeta | None = None,
        owns_engine: bool = False,
        repo_info: RepoInfo | None = None,
        extensions: Extensions | None = None,
    ) -> None:
        self.options, self.engine, self.sandboxes = options, engine, sandboxes
        self.owns_engine = owns_engine
        """Close the engine with the session (it was made for this session, not shared)."""
        self.bus = bus or EventBus()
        self.approver = approver
        self.repo: RepoInfo = repo_info or inspect_repo(options.repo)  # given: the caller just inspected it
        self.resumed = resume
        self.extensions = extensions
        """MCP servers, hooks and tool narrowing from the user's config (agent/extensions.py)."""
        if resume is not None:
            # The conversation happened against the base it started from, not today's HEAD.
            self.repo.head = resume.base_commit
        self.id = resume.id if resume else time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        self.folder = options.state_dir / "sessions" / self.id
        self.trajectory_path = self.folder / "trajectory.jsonl"
        self.workspace = Workspace(self.folder, self.repo)
        self.checkpoints = Checkpoints(self.workspace, options.checkpoint_bytes)
        self.branch: str | None = resume.branch if resume else options.branch
        self.cancelled = threading.Event()
        self._writer: TrajectoryWriter | None = None
        self._sandbox: Sandbox | None = None
        self._loop: AgentLoop | None = None
        self._meta: SessionMeta | None = resume
        self._notes: list[str] = []
        self._resources = ExitStack()
        """What must be undone at close after the sandbox: the workspace's mount."""
        self._closed = False
        self._task = ""
        self._close_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the sandbox (and the workspace unless kept); idempotent.

        The workspace's last state is kept as a checkpoint first, so a resume starts from it. Front
        doors close more than once (the TUI's quit, then `run_tui`'s `finally`): only the first
        call acts. A second snapshot would read the unmounted, empty mount point as the last state."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._keep_last_state()
        finally:  # a second Ctrl-C or a failing server must not leak the container and the mount
            self._release()

    def _keep_last_state(self) -> None:
        if self._loop is not None and self.workspace.path.is_dir():
            try:
                self.checkpoints.snapshot(self._loop.total_steps + 1, CLOSED_LABEL)
            except QcodeError as err:  # cleanup matters more than a resumable state
                self.bus.emit(
                    Notice(level="warning", text=f"could not keep the last state for a resume: {err}")
                )
        if self.extensions is not None:
            self.extensions.close()  # before the sandbox: a sandboxed server runs in it

    def _release(self) -> None:
        try:
            if self._sandbox is not None:
                self._sandbox.close()
                self._sandbox = None
                self.workspace.guard = nullcontext
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if not self.options.keep_workspace:
                self.workspace.remove()
            self._resources.close()
            if self.owns_engine:
                self.engine.close()
                self.owns_engine = False

    def cancel(self) -> None:
        """Stop the current run: the running command is killed at once (its process tree in the
        sandbox), the loop stops at its next check; the session stays usable. Any thread."""
        self.cancelled.set()
        interrupt = getattr(self._sandbox, "interrupt", None)
        if interrupt is not None:
            interrupt()

    def _open(self, task: str) -> AgentLoop:
        if self._loop is not None:
            return self._loop
        self.folder.mkdir(parents=True, exist_ok=True)
        # A resumed session's past events, read before this process appends its own.
        past = load_events(self.trajectory_path) if self.resumed and self.trajectory_path.is_file() else []
        self._writer = TrajectoryWriter(self.trajectory_path)
        if self.branch is None:
            self.branch = unique_branch(self.repo.root, f"qcode/{slugify(task)}")
        self._prepare_workspace()
        self.bus.subscribe(self._writer)
        self.bus.emit(
            SessionStarted(
                session_id=self.id,
                repo=str(self.repo.root),
                base_commit=self.repo.head,
                branch=self.branch,
                workspace=str(self.workspace.path),
                trajectory=str(self.trajectory_path),
                task=task,
                engine=self.engine.name,
            )
        )
        for notice in opening_notices(self.repo.dirty, [*getattr(self.engine, "notices", []), *self._notes]):
            self.bus.emit(notice)
        self._meta = self._meta or new_meta(self.id, str(self.repo.root), self.repo.head, self.branch, task)
        save_meta(self.folder, self._meta)
        self._loop = self._build_loop(self.sandboxes.start(self.workspace.path, self.id))
        if self.resumed is not None:
            # Continue the session's step clock too, so new checkpoints sort after the old ones.
            self._loop.restore(past, clock=max((c.step for c in self.checkpoints.all()), default=0))
        return self._loop

    def _build_loop(self, sandbox: Sandbox) -> AgentLoop:
        self._sandbox = sandbox
        self.workspace.guard = getattr(sandbox, "paused", nullcontext)
        ctx = ToolContext(
            workspace=self.workspace.path,
            sandbox=sandbox,
            diff=self.workspace.diff,
            command_timeout=self.options.command_timeout,
            approve=self.approver,
            checker=ChangeChecker(self.options.diagnostics),
            guard=self.workspace.guard,  # host reads of the workspace run with the sandbox frozen
        )
        registry = self._registry(sandbox)
        recovery = Recovery(self.checkpoints, self.bus, registry.effect_of)  # MCP tools declare theirs
        limits = self.options.limits
        return AgentLoop(self.engine, registry, ctx, self.bus, limits, recovery, self.cancelled)

    def _registry(self, sandbox: Sandbox) -> ToolRegistry:
        """The built-in tools, with the user's MCP servers and hooks when configured."""
        if self.extensions is None:
            return default_registry()
        event = {"session_id": self.id, "repo": str(self.repo.root), "workspace": str(self.workspace.path)}
        return self.extensions.open(
            default_registry(), self.bus, sandbox, event, cwd=self.repo.root, hooks_cwd=self.folder
        )

    def _prepare_workspace(self) -> None:
        assert self.branch is not None
        if self.resumed is not None and self.workspace.path.exists():
            self.workspace.remove()  # a kept copy may be stale; the last checkpoint is the truth
        note = self._resources.enter_context(
            self.sandboxes.workspace(
                self.workspace.path, self.options.workspace_disk, keep=self.options.keep_workspace
            )
        )
        self._notes = [note] if note else []
        self.workspace.create(self.branch)
        if self.resumed is not None:
            self.workspace.tip = self.resumed.tip
            self.checkpoints.restore_latest()

    def undo(self, steps: int = 1) -> str:
        """Undo the last `steps` changes to the workspace (between runs); the model is told on its
        next turn. Returns a diffstat of what changed."""
        if self._loop is None:
            raise UserError("nothing to undo yet: no task has run in this session")
        target, stat = self.checkpoints.rewind(steps, self._loop.total_steps + 1)
        where = describe(target)
        number, step = (target.number, target.step) if target else (0, 0)
        self.bus.emit(RolledBack(number=number, step=step, diffstat=stat))
        replan = self._loop.replan(f"the user undid the last {steps} change(s)")
        self._loop.say(
            f"qcode notice: the user undid the last {steps} change(s); the workspace is back at "
            f"{where}. Re-read files before editing them." + (f"\n\n{replan}" if replan else "")
        )
        return undo_note(where, stat)

    # -- runs --------------------------------------------------------------------------------

    def run(self, task: str) -> RunResult:
        """One task (or a follow-up) to its end: plan, execute, verify, commit."""
        started = time.monotonic()
        self._task = task  # this run's commit is titled after this task, not the session's first
        self.cancelled.clear()
        if self.extensions is not None:
            self.extensions.new_run()
        getattr(self._sandbox, "clear_interrupt", lambda: None)()  # a stop asked for the last run
        try:
            loop = self._open(task)
            self._mark("running", owner_label())
            hook_context = self.extensions.start_context if self.extensions is not None else ""
            try:
                outcome = loop.run(
                    task_prompt(self.workspace, task, hook_context) if loop.first_run else task
                )
                result = self._conclude(outcome, "resolved", "finished")
            except TerminatingError as err:
                result = self._conclude(loop.outcome(), err.status, str(err))
        except BaseException as err:
            # First the record (a broken pipe fails the notice too): stopped, or failed.
            stopped = isinstance(err, _STOPPED)
            self._mark("interrupted" if stopped else "error")
            if not stopped:  # a stop is reported by the front door, in its own words
                with suppress(OSError):
                    self.bus.emit(Notice(level="error", text=error_line(err)))
            raise
        self.bus.emit(
            RunFinished(
                **result.model_dump(exclude={"session_id", "verify"}), duration=time.monotonic() - started
            )
        )
        self._mark(result.status)
        return result

    def _mark(self, status: str, owner: str | None = None) -> None:
        """Record the session's status (and the process running it) in its session.json."""
        if self._meta is None:
            return
        self._meta.status, self._meta.tip, self._meta.owner = status, self.workspace.tip, owner
        with suppress(OSError):  # a full disk must not hide the run's own outcome
            save_meta(self.folder, self._meta)

    def _conclude(self, outcome: LoopOutcome, status: Status, reason: str) -> RunResult:
        assert self.branch is not None and self._sandbox is not None
        stage = FinishStage(
            workspace=self.workspace,
            sandbox=self._sandbox,
            bus=self.bus,
            branch=self.branch,
            patch_path=self.options.patch_out or self.folder / "result.patch",
            verify_command=self.options.verify_command,
            command_timeout=self.options.command_timeout,
        )
        finished = stage.run(status, reason, task=self._task, summary=outcome.summary)
        return RunResult(
            **finished.model_dump(exclude={"verify"}),
            verify=finished.verify.model_dump() if finished.verify else None,
            steps=outcome.steps,
            usage=outcome.usage,
            trajectory=str(self.trajectory_path),
            session_id=self.id,
            summary=outcome.summary,
        )
