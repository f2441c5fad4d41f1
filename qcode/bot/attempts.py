"""`qcode bot --attempts N`: the attempts on the issue's branch; only the chosen one is pushed (the
attempt branches stay in the runner's checkout, and a dry run removes them), and the pull
request's body carries the selection table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from qcode.agent.contracts import PlanStep
from qcode.agent.events import EventBus, PlanUpdated
from qcode.agent.exceptions import GitError
from qcode.agent.session import RunResult
from qcode.agent.workspace import run_git

if TYPE_CHECKING:
    from qcode.agent.attempts import AttemptsOutcome
    from qcode.config import Settings

__all__ = ["BotAttempts", "run_bot_attempts"]


class BotAttempts:
    """What the bot needs of an attempts run: the chosen result, its plan, the table."""

    def __init__(self, outcome: AttemptsOutcome, plans: dict[int, list[PlanStep]]) -> None:
        from qcode.attempts_view import selection_markdown

        self.outcome = outcome
        self.plan = plans.get(outcome.chosen or 0, [])
        self.table = selection_markdown(outcome)
        self.result = outcome.result or RunResult(status="unresolved", reason=outcome.selection.reason)


def run_bot_attempts(
    settings: Settings,
    checkout: Path,
    task: str,
    branch: str,
    bus: EventBus,
    patch_out: Path | None,
    dry_run: bool,
) -> BotAttempts:
    from qcode.agent.attempts import AttemptEngines, AttemptsOptions, run_attempts

    options = AttemptsOptions.from_settings(settings)
    count = options.count
    plans: dict[int, list[PlanStep]] = {}

    def make_bus(k: int) -> EventBus:
        attempt_bus = EventBus()

        def relay(event: object) -> None:
            if isinstance(event, PlanUpdated):
                plans[k] = list(event.plan)

        attempt_bus.subscribe(relay)
        return attempt_bus

    engines = AttemptEngines.build(settings.engine, settings, count)
    try:
        with _attempt_branches_removed(checkout, branch, count, dry_run):
            outcome = run_attempts(
                settings,
                checkout,
                task,
                engines,
                options,
                make_bus,
                patch_out=patch_out,
                session_kwargs={"repo_proposals": False},
                branch=branch,
            )
    finally:
        engines.close()
    return BotAttempts(outcome, plans)


@contextmanager
def _attempt_branches_removed(checkout: Path, branch: str, count: int, dry_run: bool) -> Iterator[None]:
    """A dry run leaves no attempt branch behind in the checkout."""
    try:
        yield
    finally:
        if dry_run:
            for k in range(1, count + 1):
                with suppress(GitError):
                    run_git(["update-ref", "-d", f"refs/heads/{branch}-attempt-{k}"], checkout)
