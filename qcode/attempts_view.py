"""`--attempts` in the front doors: one progress line per attempt, the selection table (terminal
and Markdown), and `qcode fix --attempts N` itself."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from qcode.agent.events import EventBus, ModelTurn, RunFinished, SessionStarted, ToolCalled
from qcode.agent.untrusted import for_markdown, for_markup

if TYPE_CHECKING:
    from qcode.agent.attempts import AttemptsOutcome
    from qcode.config import Settings

__all__ = ["AttemptsBoard", "fix_with_attempts", "outcome_json", "selection_markdown", "selection_table"]

STEP_KEYS = ("a", "b", "c", "d", "e", "f")
_MARKS = {"pass": "✓", "fail": "✗", "skip": "–", "": "·"}


class AttemptsBoard:
    """One line per attempt: a live block on a terminal, else a line each time one changes."""

    def __init__(self, count: int, console: Console) -> None:
        self.console = console
        self.lines = {k: "starting" for k in range(1, count + 1)}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def bus(self, k: int) -> EventBus:
        bus = EventBus()
        bus.subscribe(lambda event: self._on(k, event))
        return bus

    def __enter__(self) -> AttemptsBoard:
        if self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def _on(self, k: int, event: object) -> None:
        match event:
            case SessionStarted():
                line = f"branch {event.branch}"
            case ModelTurn():
                line = f"step {event.step} ({event.phase})"
            case ToolCalled():
                line = f"{self.lines[k].split(' · ')[0]} · {event.name}"
            case RunFinished():
                line = f"{event.status}: {event.reason} ({event.steps} steps)"
            case _:
                return
        with self._lock:
            self.lines[k] = line
            if self._live is not None:
                self._live.update(self._render())
            else:
                self.console.print(f"attempt {k}: {for_markup(line)}", highlight=False)

    def _render(self) -> Text:
        return Text("\n".join(f"attempt {k}: {line}" for k, line in self.lines.items()))


def selection_table(outcome: AttemptsOutcome) -> Table:
    table = Table(title="attempts", show_lines=False)
    for column in ("#", "status", "branch", *(f"({k})" for k in STEP_KEYS), "verdict"):
        table.add_column(column, overflow="fold")
    for record in outcome.attempts:
        marks = [_MARKS.get(record.checks.get(k, ""), "·") for k in STEP_KEYS]
        mark = "★ " if record.number == outcome.chosen else ""
        table.add_row(
            f"{mark}{record.number}",
            record.status,
            for_markup(record.branch or "-"),
            *marks,
            for_markup(record.verdict),
        )
    return table


def selection_markdown(outcome: AttemptsOutcome) -> str:
    """The table for a pull request's body (the verdict text is the harness's own words)."""
    head = (
        "| # | status | (a) | (b) | (c) | (d) | (e) | (f) | verdict |\n|---|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for record in outcome.attempts:
        marks = " | ".join(_MARKS.get(record.checks.get(k, ""), "·") for k in STEP_KEYS)
        chosen = " (chosen)" if record.number == outcome.chosen else ""
        verdict = for_markdown(record.verdict).replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {record.number}{chosen} | {record.status} | {marks} | {verdict} |")
    steps = (
        "(a) applies and parses · (b) verify passes · (c) no regression · (d) reproductions · "
        "(e) consensus · (f) judge"
    )
    return "\n".join([head, *rows, "", steps])


def outcome_json(outcome: AttemptsOutcome) -> dict[str, Any]:
    """`attempts` and `chosen` for `--json`, beside the chosen attempt's own fields."""
    result = outcome.result.model_dump(exclude={"verify"}) if outcome.result else {}
    result.setdefault("status", "unresolved")
    result.setdefault("reason", outcome.selection.reason)
    return {
        **result,
        "attempts": [r.model_dump() for r in outcome.attempts],
        "chosen": outcome.chosen,
        "selection": outcome.selection.model_dump(),
        "verify_command": outcome.verify_command,
        "check_sandboxes": outcome.check_sandboxes,
        "stopped": outcome.stopped,
    }


def fix_with_attempts(
    settings: Settings,
    repo: Path,
    task: str,
    console: Console,
    patch_out: Path | None = None,
    on_dirty: Any = None,
    session_kwargs: dict[str, Any] | None = None,
) -> AttemptsOutcome:
    from qcode.agent.attempts import AttemptEngines, AttemptsOptions, run_attempts

    options = AttemptsOptions.from_settings(settings)
    engines = AttemptEngines.build(settings.engine, settings, options.count, warm=True)
    try:
        with AttemptsBoard(options.count, console) as board:
            outcome = run_attempts(
                settings,
                repo,
                task,
                engines,
                options,
                board.bus,
                patch_out=patch_out,
                on_dirty=on_dirty,
                session_kwargs=session_kwargs,
                log=lambda line: console.print(for_markup(line), highlight=False),
            )
    finally:
        engines.close()
    console.print(selection_table(outcome))
    for record in outcome.attempts:
        console.print(f"attempt {record.number}: {for_markup(record.verdict)}", highlight=False)
    if outcome.stopped:
        console.print(f"stopped early: {for_markup(outcome.stopped)}", highlight=False)
    return outcome
