"""The CLI's progress view: a Rich subscriber of the loop's events, printing to stderr."""

from __future__ import annotations

from rich.console import Console

from qcode.agent.events import (
    ModelTurn,
    Notice,
    ObservationMade,
    PlanUpdated,
    RunFinished,
    SessionStarted,
    ToolCalled,
)
from qcode.agent.untrusted import for_markup as escape  # [issue 13] ESC/OSC, markup, `::` lines

__all__ = ["ProgressPrinter"]

_MARK = {"done": "[green]✓[/]", "in_progress": "[yellow]▶[/]", "pending": "[dim]·[/]"}


class ProgressPrinter:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)

    def __call__(self, event: object) -> None:
        match event:
            case SessionStarted():
                self.console.print(
                    f"[bold]qcode[/] session {event.session_id} → branch [cyan]{event.branch}[/]"
                )
                self.console.print(f"[dim]trajectory: {event.trajectory}[/]")
            case ModelTurn():
                tokens = event.usage.prompt_tokens + event.usage.completion_tokens
                self.console.print(
                    f"[dim]step {event.step} ({event.phase}) · {tokens} tokens · {event.duration:.1f}s[/]"
                )
            case ToolCalled():
                args = ", ".join(f"{k}={_short(v)}" for k, v in event.arguments.items())
                self.console.print(f"  [bold]{escape(_short(event.name))}[/]({escape(args)})")
            case ObservationMade() if not event.ok:
                self.console.print(f"    [red]✗[/] {escape(_short(event.text, 160))}")
            case PlanUpdated():
                for step in event.plan:
                    self.console.print(f"    {_MARK[step.status]} {escape(step.step)}")
            case Notice():
                colour = {"info": "blue", "warning": "yellow", "error": "red"}[event.level]
                self.console.print(f"[{colour}]{escape(event.text)}[/]")
            case RunFinished():
                colour = {"resolved": "green", "unresolved": "yellow", "error": "red"}[event.status]
                self.console.print(f"[bold {colour}]{event.status}[/]: {escape(event.reason)}")


def _short(value: object, limit: int = 60) -> str:
    text = str(value).replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"
