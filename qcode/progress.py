"""The CLI's progress view: a Rich subscriber of the loop's events, printing to stderr.

What a person watching needs: each tool call in one line, a successful result in one short line
(the passing test run's summary), a failure in a few readable lines, the plan as a list, and a
heartbeat while a long command runs.
"""

from __future__ import annotations

import threading
import time

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

__all__ = ["ProgressPrinter", "failure_lines", "success_line"]

_MARK = {"done": "[green]✓[/]", "in_progress": "[yellow]▶[/]", "pending": "[dim]·[/]", "failed": "[red]✗[/]"}
_NOTICE = {"info": "cyan", "warning": "yellow", "error": "red"}
"""Notice colours; readable on dark and light terminals (dark blue is not, on black)."""
_QUIET_ARGS = {"update_plan"}
"""Tools whose arguments are shown by another line (the plan prints as a list)."""
FAILURE_LINES = 6
LINE_WIDTH = 160
HEARTBEAT_SECONDS = 15.0


class ProgressPrinter:
    def __init__(self, console: Console | None = None, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self._heartbeat = _Heartbeat(self.console, heartbeat)

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
                args = "" if event.name in _QUIET_ARGS else _arguments(event.arguments)
                self.console.print(f"  [bold]{escape(event.name)}[/]({escape(args)})")
                self._heartbeat.start(event.name)
            case ObservationMade():
                self._heartbeat.stop()
                self._observed(event)
            case PlanUpdated():
                self.console.print("    [dim]plan:[/]")
                for step in event.plan:
                    self.console.print(f"    {_MARK[step.status]} {escape(step.step)}")
            case Notice():
                self.console.print(f"[{_NOTICE[event.level]}]{escape(event.text)}[/]")
            case RunFinished():
                self._heartbeat.stop()
                colour = {"resolved": "green", "unresolved": "yellow", "error": "red"}[event.status]
                self.console.print(f"[bold {colour}]{event.status}[/]: {escape(event.reason)}")

    def _observed(self, event: ObservationMade) -> None:
        if event.name in _QUIET_ARGS:
            return
        if event.ok:
            line = success_line(event.text)
            if line:
                self.console.print(f"    [green]✓[/] [dim]{escape(line)}[/]")
            return
        lines = failure_lines(event.text)
        self.console.print(f"    [red]✗[/] {escape(lines[0]) if lines else ''}")
        for line in lines[1:]:
            self.console.print(f"      {escape(line)}")


def success_line(text: str, width: int = 100) -> str:
    """One line that says what a successful call did: the last line of a command's output (a test
    run's summary), else the first line of the result."""
    lines = _meaningful(text)
    if not lines:
        return ""
    if lines[-1].startswith("[exit code:") and len(lines) > 1:
        return _clip(f"{lines[-2]}  {lines[-1]}", width)
    return _clip(lines[0], width)


def failure_lines(text: str, count: int = FAILURE_LINES, width: int = LINE_WIDTH) -> list[str]:
    """The last `count` non-empty lines of a failed call's result (where errors and summaries are),
    each cut to `width`; one line says how many came before."""
    lines = _meaningful(text)
    if len(lines) <= count:
        return [_clip(line, width) for line in lines]
    shown = [_clip(line, width) for line in lines[-(count - 1) :]]
    return [f"… {len(lines) - len(shown)} earlier lines", *shown]


_STATUS_HEADS = ("[exit code:", "[timed out", "[stopped")


def _meaningful(text: str) -> list[str]:
    """The non-empty lines, a shell result's status header (its first line: see tools/builtin.py)
    moved last, where a command's summary line sits beside it."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith(_STATUS_HEADS):
        lines.append(lines.pop(0))
    return lines


def _arguments(arguments: dict[str, object]) -> str:
    return ", ".join(f"{key}={_clip(' '.join(str(value).split()), 60)}" for key, value in arguments.items())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Heartbeat:
    """Prints `still running` every `interval` seconds while one tool call runs."""

    def __init__(self, console: Console, interval: float) -> None:
        self.console, self.interval = console, interval
        self._done: threading.Event | None = None

    def start(self, name: str) -> None:
        self.stop()
        done = self._done = threading.Event()
        began = time.monotonic()

        def beat() -> None:
            while not done.wait(self.interval):
                try:
                    self.console.print(
                        f"    [dim]… {name} still running ({time.monotonic() - began:.0f}s)[/]"
                    )
                except (OSError, SystemExit):  # the reader is gone; the main thread will hear it
                    return

        threading.Thread(target=beat, name="qcode-heartbeat", daemon=True).start()

    def stop(self) -> None:
        if self._done is not None:
            self._done.set()
            self._done = None
