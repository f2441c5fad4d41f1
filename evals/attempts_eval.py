"""`qcode eval --attempts N`: each task gets N attempts and the selection; every attempt is graded
too, so the report can put pass@1 (the first attempt alone) beside best-of-N and say how often the
selection picked a resolving attempt when one existed.

The selection sees what a user has: the repository and its test command (as `--verify`), never
the task's FAIL_TO_PASS list or test_patch.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel
from qcode.agent.attempts import AttemptEngines, AttemptsOptions, run_attempts
from qcode.agent.contracts import Engine
from qcode.agent.events import EventBus
from qcode.evals.decoy import DecoyEngine, mix_kinds
from qcode.evals.gold import GoldEngine
from qcode.evals.grading import Grade, grade_patch
from qcode.evals.repos import materialize
from qcode.evals.tasks import Task

from qcode.runner import sandbox_settings

if TYPE_CHECKING:
    from qcode.evals.runner import EvalOptions, TaskResult

    from qcode.config import Settings

__all__ = ["AttemptGrade", "run_task_attempts", "task_engines"]


class AttemptGrade(BaseModel):
    """One attempt of a task, graded (the hidden tests), beside what the selection made of it."""

    number: int
    engine: str
    status: str
    resolved: bool
    chosen: bool
    verdict: str
    behaviour: str = ""


def task_engines(
    task: Task, base: Path, options: EvalOptions, settings: Settings, shared: Engine | None
) -> AttemptEngines:
    """The attempts' engines for one task: gold/decoy per task, a shared model engine, or `mix:`."""
    kinds = mix_kinds(options.engine, task.instance_id)
    if kinds is not None:
        return AttemptEngines(
            [
                GoldEngine(task)
                if kind == "gold"
                else DecoyEngine(task, base, kind.split("-", 1)[1], f"{task.instance_id}:{k}")
                for k, kind in enumerate(kinds, start=1)
            ]
        )
    if options.engine == "gold":
        return AttemptEngines([GoldEngine(task) for _ in range(options.attempts)])
    if shared is not None:
        return _Shared([shared] * options.attempts)
    return AttemptEngines.build(options.engine, settings, options.attempts)


class _Shared(AttemptEngines):
    def close(self) -> None:
        """The run's shared engine is closed by the run, not by one task."""


def run_task_attempts(
    task: Task, settings: Settings, options: EvalOptions, shared: Engine | None
) -> TaskResult:
    from qcode.evals.runner import TaskResult

    task_dir = options.out / "tasks" / task.instance_id
    shutil.rmtree(task_dir, ignore_errors=True)
    task_dir.mkdir(parents=True)
    task_settings = settings.model_copy(update={"state_dir": task_dir / "state"})
    with tempfile.TemporaryDirectory(prefix="qcode-eval-") as scratch:
        base = Path(scratch) / "repo"
        materialize(task, base)
        engines = task_engines(task, base, options, settings, shared)
        count = len(engines.engines)
        started = time.monotonic()
        try:
            outcome = run_attempts(
                task_settings,
                base,
                task.problem_statement,
                engines,
                AttemptsOptions(
                    count=count, verify_command=task.test_command, wall_seconds=settings.attempts_wall_seconds
                ),
                lambda k: EventBus(),
            )
        finally:
            engines.close()
        wall = time.monotonic() - started
        grades: list[AttemptGrade] = []
        for record in outcome.attempts:
            patch = Path(record.patch).read_text(encoding="utf-8") if record.patch else ""
            grade = (
                grade_patch(task, base, patch, Path(scratch), sandbox_settings(settings))
                if patch
                else Grade(resolved=False, reason="the attempt produced no patch")
            )
            grades.append(
                AttemptGrade(
                    number=record.number,
                    engine=record.engine,
                    status=record.status,
                    resolved=grade.resolved,
                    chosen=record.number == outcome.chosen,
                    verdict=record.verdict,
                    behaviour=record.behaviour,
                )
            )
    (task_dir / "attempts.json").write_text(outcome.model_dump_json(indent=2), encoding="utf-8")
    chosen = next((g for g in grades if g.chosen), None)
    resolved = chosen is not None and chosen.resolved
    run = outcome.result
    return TaskResult(
        instance_id=task.instance_id,
        status="resolved" if resolved else "unresolved",
        resolved=resolved,
        run_status=run.status if run else "unresolved",
        reason=outcome.selection.reason,
        grade_reason=f"chosen attempt {outcome.chosen}" if chosen else "no attempt chosen",
        steps=sum(r.steps for r in outcome.attempts),
        wall_seconds=wall,
        trajectory=run.trajectory if run else "",
        attempts=[g.model_dump() for g in grades],
        chosen=outcome.chosen,
        pass_at_1=grades[0].resolved if grades else False,
        best_of_n=any(g.resolved for g in grades),
    )
