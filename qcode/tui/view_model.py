"""Pure helpers that turn loop events into what the TUI shows: streamed text, card titles, stats.

No widgets here, so each piece is tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qcode.agent.contracts import Usage
from qcode.agent.untrusted import for_terminal

__all__ = [
    "RunStats",
    "card_title",
    "compact",
    "duration_text",
    "fit_status",
    "summarize_args",
    "undo_words",
]

_PRIMARY_ARG = ("command", "path", "pattern", "summary")
STATUS_MARK = {"running": "…", "asking": "?", "ok": "✓", "failed": "✗", "rejected": "⊘", "skipped": "·"}


def compact(value: object, limit: int = 60) -> str:
    """One line, at most `limit` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize_args(name: str, arguments: dict[str, Any], limit: int = 60) -> str:
    """The argument a person cares about first: the command, the path, the pattern…"""
    if name == "update_plan":
        plan = arguments.get("plan")
        return f"{len(plan)} steps" if isinstance(plan, list) else ""
    for key in _PRIMARY_ARG:
        if key in arguments:
            return compact(arguments[key], limit)
    return compact(", ".join(f"{k}={v}" for k, v in arguments.items()), limit)


def duration_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


def card_title(name: str, arguments: dict[str, Any], status: str, duration: float | None = None) -> str:
    tail = f"  {duration_text(duration)}" if duration is not None else ""
    summary = summarize_args(name, arguments)
    return for_terminal(f"{STATUS_MARK[status]} {name}" + (f"  {summary}" if summary else "") + tail)


def human_count(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}"


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@dataclass
class RunStats:
    """Token accounting the status bar shows, summed over the session."""

    usage: Usage = field(default_factory=Usage)
    step: int = 0
    tokens_per_second: float | None = None
    turns: int = 0
    model_seconds: float = 0.0

    def add_turn(self, step: int, usage: Usage, duration: float, first_token: float | None) -> None:
        self.usage = self.usage + usage
        self.step = step
        self.turns += 1
        self.model_seconds += duration
        generating = duration - (first_token or 0.0)
        if generating > 0 and usage.completion_tokens:
            self.tokens_per_second = usage.completion_tokens / generating

    @property
    def cached_percent(self) -> float:
        prompt = self.usage.prompt_tokens
        return 100.0 * self.usage.cached_tokens / prompt if prompt else 0.0

    def text(self) -> str:
        rate = f"{self.tokens_per_second:.0f} tok/s" if self.tokens_per_second is not None else "– tok/s"
        return (
            f"step {self.step} · ↑{human_count(self.usage.prompt_tokens)} "
            f"↓{human_count(self.usage.completion_tokens)} · {self.cached_percent:.0f}% cached · {rate}"
        )

    def cost_text(self) -> str:
        """What /cost says: tokens both ways, cache hits, the model's time."""
        usage = self.usage
        return (
            f"cost: {human_count(usage.prompt_tokens)} prompt tokens "
            f"({self.cached_percent:.0f}% cached) · {human_count(usage.completion_tokens)} generated · "
            f"{self.turns} model turns in {duration_text(self.model_seconds)}"
        )


def fit_status(head: str, stats: str, model: str, width: int) -> str:
    """The part of `stats` that fits a status line `width` cells wide after `head` and before the
    model's name: stats give way one `·` part at a time from the right, so the name is never cut."""
    parts = [part for part in stats.split(" · ") if part]
    while parts and len(head) + len("· " + " · ".join(parts) + " ") + len("· " + model) > width:
        parts.pop()
    return " · ".join(parts)


def undo_words(number: int, step: int, diffstat: str) -> str:
    """The Ctrl+Z note: which files went back, to where, and what happens next — not a raw diffstat."""
    where = f"checkpoint {number} (before step {step})" if number else "the session's starting point"
    files = [line.split("|")[0].strip() for line in diffstat.splitlines() if "|" in line]
    if not files:
        return f"Nothing to undo: the workspace already matches {where}."
    named = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return (
        f"Undone: {named} {'is' if len(files) == 1 else 'are'} back as at {where}. "
        "The branch keeps its commits until your next run commits this state; Ctrl+R shows both."
    )
