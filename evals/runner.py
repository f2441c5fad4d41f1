"""Run tasks through real qcode sessions and grade them: N at once, resumable.

Each task gets its own copy of the repository at the base commit (a fresh git repository), its
own session and sandbox, then a fresh sandbox for grading. Tasks share one engine, except the
gold engine, which is made per task from the task's gold patch. A task whose `result.json`
exists in the output folder is skipped, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

import docker.errors
from pydantic import BaseModel, Field
from qcode.agent.contracts import Engine, Usage
from qcode.agent.engines import make_engine
from qcode.agent.events import EventBus
from qcode.evals.faults import FaultInjector
from qcode.evals.gold import GOLD_ENGINE_NAME, GoldEngine
from qcode.evals.grading import Grade, grade_patch
from qcode.evals.metrics import RunMetrics
from qcode.evals.repos import materialize
from qcode.evals.tasks import Task

from qcode.config import Settings
from qcode.runner import new_session, sandbox_settings
from qcode.stream_json import EventFile

__all__ = ["TRANSIENT_DOCKER", "EvalOptions", "TaskResult", "is_transient", "load_results", "run_eval"]

Log = Callable[[str], None]


class EvalOptions(BaseModel):
    engine: str = GOLD_ENGINE_NAME
    workers: int = Field(1, ge=1)
    faults: float = Field(0.0, ge=0.0, le=1.0)
    """Probability per turn of a recoverable fault first (gold engine only)."""
    out: Path
    attempts: int = Field(1, ge=1, le=16)
    """Attempts per task (qcode.evals.attempts_eval); `mix:gold=G,decoy=D` sets G + D."""


class TaskResult(BaseModel):
    """One task's outcome: the run, its cost, and the grade."""

    instance_id: str
    status: Literal["resolved", "unresolved", "error"]
    """resolved = the graded tests pass; error = the run or the harness failed."""
    resolved: bool = False
    run_status: str = ""
    """The session's own status (resolved means the agent called finish)."""
    reason: str = ""
    grade_reason: str = ""
    steps: int = 0
    usage: Usage = Field(default_factory=Usage)
    wall_seconds: float = 0.0
    """The agent's run, from the session's start to its commit."""
    grade_seconds: float = 0.0
    tool_errors: int = 0
    error_kinds: dict[str, int] = Field(default_factory=dict)
    recoveries: int = 0
    failed_commands: int = 0
    faults_injected: list[str] = Field(default_factory=list)
    patch_lines: int = 0
    trajectory: str = ""
    retried: bool = False
    """The first attempt hit an infrastructure error (a vanished container) and was run again."""
    harness_error: bool = False
    """The harness itself failed (not the agent); such tasks are run again on resume."""
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    """With --attempts: each attempt graded, and what the selection made of it."""
    chosen: int | None = None
    pass_at_1: bool | None = None
    """With --attempts: whether the first attempt alone resolved the task."""
    best_of_n: bool | None = None
    """With --attempts: whether any attempt resolved it."""


def _result_path(out: Path, task: Task) -> Path:
    return out / "tasks" / task.instance_id / "result.json"


def load_results(out: Path, tasks: list[Task]) -> list[TaskResult]:
    """The results present in `out` for these tasks, in task order."""
    results = []
    for task in tasks:
        path = _result_path(out, task)
        if path.is_file():
            results.append(TaskResult.model_validate_json(path.read_text(encoding="utf-8")))
    return results


def _finished(out: Path, task: Task) -> bool:
    path = _result_path(out, task)
    if not path.is_file():
        return False
    try:
        return not TaskResult.model_validate_json(path.read_text(encoding="utf-8")).harness_error
    except ValueError:
        return False  # a torn or foreign file: run the task again


def run_eval(
    tasks: list[Task], settings: Settings, options: EvalOptions, log: Log = print
) -> list[TaskResult]:
    """Run every unfinished task; return all results present afterwards."""
    todo = [task for task in tasks if not _finished(options.out, task)]
    log(
        f"{len(tasks) - len(todo)} of {len(tasks)} tasks already done; running {len(todo)} "
        f"with {options.workers} worker(s), engine {options.engine}"
    )
    scripted = options.engine == GOLD_ENGINE_NAME or options.engine.startswith("mix:")
    shared = None if scripted else make_engine(options.engine, settings)
    try:
        with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="eval") as pool:
            futures = {pool.submit(_run_guarded, task, settings, options, shared): task for task in todo}
            for done, future in enumerate(as_completed(futures), start=1):
                result = future.result()
                log(
                    f"[{done}/{len(todo)}] {result.instance_id}: {result.status} "
                    f"({result.steps} steps, {result.wall_seconds:.1f}s) "
                    f"{result.grade_reason or result.reason}"
                )
    finally:
        if shared is not None:
            shared.close()
    return load_results(options.out, tasks)


TRANSIENT_DOCKER = ("unable to freeze", "OCI runtime pause failed", "OCI runtime resume failed")
"""Docker errors that say nothing about the task: the cgroup freezer lost a race (busy hosts)."""


def is_transient(err: BaseException | str) -> bool:
    """An infrastructure hiccup, not the agent's doing: a container that vanished under the harness
    (a concurrent reaper's race with docker-py's list-then-inspect) or a freezer that did not freeze."""
    if isinstance(err, docker.errors.NotFound):
        return True
    text = err if isinstance(err, str) else str(err)
    return isinstance(err, str | docker.errors.APIError) and any(mark in text for mark in TRANSIENT_DOCKER)


def _run_guarded(task: Task, settings: Settings, options: EvalOptions, shared: Engine | None) -> TaskResult:
    try:
        result = run_task(task, settings, options, shared)
        if result.status == "error" and is_transient(result.reason):  # a session that reported it
            result = _retry(task, settings, options, shared)
    except Exception as err:  # recorded, so one broken task does not stop the others; rerun on resume
        result = _retry(task, settings, options, shared) if is_transient(err) else _harness_error(task, err)
    path = _result_path(options.out, task)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    partial.replace(path)  # atomic: a result file is whole or absent
    return result


def _retry(task: Task, settings: Settings, options: EvalOptions, shared: Engine | None) -> TaskResult:
    try:
        return run_task(task, settings, options, shared).model_copy(update={"retried": True})
    except Exception as err:
        return _harness_error(task, err)


def _harness_error(task: Task, err: Exception) -> TaskResult:
    detail = "".join(traceback.format_exception_only(err)).strip()
    return TaskResult(
        instance_id=task.instance_id, status="error", reason=f"harness: {detail}", harness_error=True
    )


def run_task(task: Task, settings: Settings, options: EvalOptions, shared: Engine | None) -> TaskResult:
    """One task: materialize, run a session, grade its patch in a fresh sandbox."""
    if options.attempts > 1 or options.engine.startswith("mix:"):
        from qcode.evals.attempts_eval import run_task_attempts

        return run_task_attempts(task, settings, options, shared)
    task_dir = options.out / "tasks" / task.instance_id
    shutil.rmtree(task_dir, ignore_errors=True)
    task_dir.mkdir(parents=True)
    engine = shared or GoldEngine(task, FaultInjector(options.faults, seed=task.instance_id))
    metrics = RunMetrics()
    bus = EventBus()
    bus.subscribe(metrics)
    task_settings = settings.model_copy(update={"state_dir": task_dir / "state"})
    events = EventFile(task_dir / "events.jsonl")  # the stream-json lines, for tools that read them
    bus.subscribe(events)
    with tempfile.TemporaryDirectory(prefix="qcode-eval-") as scratch, closing(events):
        base = Path(scratch) / "repo"
        materialize(task, base)
        patch_out = task_dir / "model.patch"
        started = time.monotonic()
        with new_session(
            task_settings, base, bus=bus, engine=engine, patch_out=patch_out, branch="qcode/eval"
        ) as session:
            run = session.run(task.problem_statement)
        events.result(run)
        wall = time.monotonic() - started
        patch = patch_out.read_text(encoding="utf-8") if run.patch and patch_out.is_file() else ""
        grade = (
            grade_patch(task, base, patch, Path(scratch), sandbox_settings(settings))
            if patch
            else Grade(resolved=False, reason="the run produced no patch")
        )
    (task_dir / "grade.json").write_text(grade.model_dump_json(indent=2), encoding="utf-8")
    status = "resolved" if grade.resolved else "error" if run.status == "error" else "unresolved"
    return TaskResult(
        instance_id=task.instance_id,
        status=status,
        resolved=grade.resolved,
        run_status=run.status,
        reason=run.reason,
        grade_reason=grade.reason,
        steps=run.steps,
        usage=run.usage,
        wall_seconds=wall,
        grade_seconds=grade.duration,
        tool_errors=metrics.tool_errors,
        error_kinds=metrics.error_kinds,
        recoveries=metrics.recoveries,
        failed_commands=metrics.failed_commands,
        faults_injected=list(getattr(engine, "faults_injected", [])),
        patch_lines=sum(
            1 for line in patch.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
        ),
        trajectory=run.trajectory,
    )
