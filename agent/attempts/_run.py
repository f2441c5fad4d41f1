"""N attempts at one task: sessions on threads sharing the engine(s), then the checks, the
selection and the chosen branch.

Each attempt is an ordinary Session (own workspace copy, sandbox, trajectory) committing on
`qcode/<slug>-attempt-K`; the chosen commit then also becomes `qcode/<slug>`. Ctrl-C, the total
wall-time cap or an early stop cancel the sessions; every session is closed (its container reaped)
before this returns or raises.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field
from qcode.agent.attempts._checks import Checker, Evidence, detect_test_command
from qcode.agent.attempts._engines import AttemptEngines, mix_specs
from qcode.agent.attempts._evidence import gather, quick_verified
from qcode.agent.attempts._judge import make_judge
from qcode.agent.attempts._select import Selection, behaviour_digest, select
from qcode.agent.events import EventBus
from qcode.agent.session import RunResult, Session
from qcode.agent.workspace import inspect_repo, run_git, slugify

if TYPE_CHECKING:
    from qcode.config import Settings

__all__ = ["AttemptRecord", "AttemptsOptions", "AttemptsOutcome", "run_attempts"]

MAX_ATTEMPTS = 16
Stop = Literal["all", "first-verified"]


class AttemptsOptions(BaseModel):
    count: int = Field(ge=1, le=MAX_ATTEMPTS)
    stop: Stop = "all"
    """`first-verified`: stop the others once one passes (a)–(c) with a reproduction that failed
    at the base."""
    wall_seconds: float = Field(7200.0, gt=0)
    """Total wall time of all attempts together; then every attempt still running is stopped."""
    verify_command: str | None = None
    """`--verify`; when unset, the test command detected from the repository's files."""

    @classmethod
    def from_settings(cls, settings: Settings) -> AttemptsOptions:
        """The run's options: `attempts` attempts, or one per engine of a `mix:` when the count
        was left at 1."""
        specs = mix_specs(settings.engine)
        return cls(
            count=len(specs) if specs is not None and settings.attempts == 1 else settings.attempts,
            stop=settings.attempts_stop,
            wall_seconds=settings.attempts_wall_seconds,
            verify_command=settings.verify_command,
        )


class AttemptRecord(BaseModel):
    number: int
    engine: str
    status: str
    reason: str
    branch: str | None = None
    commit: str | None = None
    patch: str | None = None
    session_id: str = ""
    trajectory: str = ""
    steps: int = 0
    checks: dict[str, str] = Field(default_factory=dict)
    """Step key → pass, fail, skip or '' (not reached)."""
    verdict: str = ""
    behaviour: str = ""
    """A digest of the attempt's test outcomes (equal digests: the tests cannot tell them apart)."""


class AttemptsOutcome(BaseModel):
    attempts: list[AttemptRecord]
    chosen: int | None
    result: RunResult | None
    """The chosen attempt's result, on `qcode/<slug>`; None when nothing was chosen."""
    selection: Selection
    verify_command: str | None
    check_sandboxes: list[str] = Field(default_factory=list)
    stopped: str = ""
    """Why attempts were stopped early (first-verified, the wall-time cap), if they were."""


def run_attempts(
    settings: Settings,
    repo: Path,
    task: str,
    engines: AttemptEngines,
    options: AttemptsOptions,
    make_bus: Callable[[int], EventBus],
    patch_out: Path | None = None,
    on_dirty: Callable[[], None] | None = None,
    session_kwargs: dict[str, Any] | None = None,
    branch: str | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> AttemptsOutcome:
    """Run the attempts to their end, select, publish the chosen branch: `branch` (moved if it
    exists: the bot's issue branch) or a new `qcode/<slug>`."""
    from qcode.runner import new_session, sandbox_settings

    info = inspect_repo(repo)
    base_branch = branch or _free_branch(info.root, f"qcode/{slugify(task)}", options.count)
    run_id = "attempts-" + time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    # Each attempt is verified by the selection in a fresh sandbox; the session need not do it too.
    quiet = settings.model_copy(update={"verify_command": None})
    sessions: list[Session] = []
    try:
        for k in range(1, options.count + 1):
            sessions.append(
                new_session(
                    quiet,
                    repo,
                    bus=make_bus(k),
                    engine=engines.engines[k - 1],
                    branch=f"{base_branch}-attempt-{k}",
                    on_dirty=on_dirty if k == 1 else None,
                    **(session_kwargs or {}),
                )
            )
        files = run_git(["ls-tree", "-r", "--name-only", info.head], info.root).splitlines()
        verify = options.verify_command or detect_test_command(files)
        checker = Checker(
            info.root,
            info.head,
            settings.state_dir / "attempts" / run_id,
            sandbox_settings(settings),
            run_id,
            settings.command_timeout * 5,
        )
        results, stopped = _run_all(sessions, task, options, checker, verify, settings.state_dir)
    finally:
        for session in sessions:
            session.close()
    log(f"checking the attempts in fresh sandboxes ({verify or 'no test command'}) …")
    try:
        evidence, base = gather(checker, results, verify, settings.state_dir / "attempts" / "base-cache")
    finally:
        shutil.rmtree(checker.scratch, ignore_errors=True)
    judge = make_judge(engines.judge(), task, {e.attempt: e.diff for e in evidence})
    selection = select(evidence, base, verify, judge)
    records = _records(sessions, engines, results, selection, stopped, evidence)
    chosen = _publish(
        info.root, base_branch, selection, results, patch_out, verify, evidence, branch is not None
    )
    return AttemptsOutcome(
        attempts=records,
        chosen=selection.chosen,
        result=chosen,
        selection=selection,
        verify_command=verify,
        check_sandboxes=list(checker.sandbox_ids),
        stopped=stopped,
    )


def _free_branch(root: Path, base: str, count: int) -> str:
    """`base` (or base-2, …) such that it and all its attempt branches are new."""
    existing = set(run_git(["for-each-ref", "--format=%(refname:short)", "refs/heads/qcode/"], root).split())
    name, n = base, 1
    while name in existing or any(f"{name}-attempt-{k}" in existing for k in range(1, count + 1)):
        n += 1
        name = f"{base}-{n}"
    return name


def _run_all(
    sessions: list[Session],
    task: str,
    options: AttemptsOptions,
    checker: Checker,
    verify: str | None,
    state: Path,
) -> tuple[dict[int, RunResult | BaseException], str]:
    """The sessions on threads; Ctrl-C, the cap or an early stop cancels them; all joined on return."""
    results: dict[int, RunResult | BaseException] = {}
    stopped = ""
    deadline = time.monotonic() + options.wall_seconds
    pool = ThreadPoolExecutor(max_workers=len(sessions), thread_name_prefix="attempt")
    futures: dict[Future[RunResult], int] = {
        pool.submit(session.run, task): k for k, session in enumerate(sessions, start=1)
    }
    cancel_all = threading.Event()
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(
                pending, timeout=min(1.0, max(0.0, deadline - time.monotonic())), return_when=FIRST_COMPLETED
            )
            for future in done:
                k = futures[future]
                error = future.exception()
                results[k] = error if error is not None else future.result()
                if not stopped and options.stop == "first-verified" and error is None and pending:
                    if quick_verified(checker, k, results[k], verify, state):  # type: ignore[arg-type]
                        stopped = f"attempt {k} passed (a)–(c) with a reproduction that failed at the base"
                        cancel_all.set()
            if not stopped and pending and time.monotonic() >= deadline:
                stopped = f"the total wall-time cap ({options.wall_seconds:.0f}s) was reached"
                cancel_all.set()
            if cancel_all.is_set():
                for session in sessions:
                    session.cancel()
    except BaseException:  # Ctrl-C / SIGTERM: stop every attempt, wait for them, then unwind
        for session in sessions:
            session.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results, stopped


def _records(
    sessions: list[Session],
    engines: AttemptEngines,
    results: dict[int, RunResult | BaseException],
    selection: Selection,
    stopped: str,
    evidence: list[Evidence],
) -> list[AttemptRecord]:
    records = []
    behaviours = {e.attempt: behaviour_digest(e) for e in evidence}
    for k, session in enumerate(sessions, start=1):
        result = results.get(k)
        checks = {
            s.key: ("fail" if k in s.dropped else "pass" if k in s.kept else "") for s in selection.steps
        }
        for step in selection.steps:
            if step.note.startswith("skipped") and k in step.kept:
                checks[step.key] = "skip"
        common = {
            "number": k,
            "engine": engines.engines[k - 1].name,
            "session_id": session.id,
            "trajectory": str(session.trajectory_path),
            "checks": checks,
            "verdict": selection.verdicts.get(k, ""),
            "behaviour": behaviours.get(k, ""),
        }
        if isinstance(result, RunResult):
            stop = stopped and "interrupted" in result.reason
            if stop:  # its half-done work was not a candidate
                common["verdict"] = f"stopped early: {stopped}"
            records.append(
                AttemptRecord(
                    status="stopped" if stop else result.status,
                    reason=f"stopped: {stopped}" if stop else result.reason,
                    branch=result.branch,
                    commit=result.commit,
                    patch=result.patch,
                    steps=result.steps,
                    **common,
                )
            )
        else:
            records.append(AttemptRecord(status="error", reason=str(result or "did not run")[:300], **common))
    return records


def _publish(
    root: Path,
    branch: str,
    selection: Selection,
    results: dict[int, RunResult | BaseException],
    patch_out: Path | None,
    verify: str | None,
    evidence: list[Evidence],
    move: bool = False,
) -> RunResult | None:
    """The chosen commit becomes `branch` (created, never moved); its result is returned for it."""
    if selection.chosen is None:
        return None
    result = results[selection.chosen]
    assert isinstance(result, RunResult) and result.commit
    # "": the branch must not exist yet (a new qcode/<slug>); the bot's issue branch may move
    run_git(["update-ref", f"refs/heads/{branch}", result.commit, *([] if move else [""])], root)
    if patch_out is not None and result.patch:
        patch_out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.patch, patch_out)
    passed_b = next((s for s in selection.steps if s.key == "b"), None)
    failed_all = passed_b is not None and passed_b.note.startswith("every remaining")
    chosen = result.model_copy(
        update={"branch": branch, "patch": str(patch_out) if patch_out else result.patch}
    )
    checked = next((e.verify for e in evidence if e.attempt == selection.chosen), None)
    if verify and checked is not None:  # the fresh sandbox's run, as a session's own verify reports it
        chosen.verify = {"command": verify, "exit_code": checked.exit_code, "output": checked.tail[-2000:]}
    if failed_all and verify:
        chosen.status, chosen.reason = (
            "unresolved",
            f"verification failed: `{verify}` failed for every attempt",
        )
    return chosen
