"""The conversation pane: the person's messages, the model's streamed turns, one card per tool call."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from qcode.agent.contracts import Channel
from qcode.agent.events import ModelTurn, ObservationMade, RunFinished, ToolCalled
from qcode.agent.policy import shows_diff
from qcode.agent.untrusted import for_terminal
from qcode.tools.builtin import builtin_effect
from qcode.tui.view_model import card_title, compact

__all__ = ["Conversation", "ToolCard", "TurnView", "diff_renderable"]

_STATUS_CLASSES = frozenset({"-running", "-asking", "-ok", "-failed", "-rejected", "-skipped"})
OUTPUT_LINES = 400
"""A card shows at most this many lines of a tool's output (the model saw the text the loop capped)."""


def diff_renderable(diff: str) -> RenderableType:
    """A coloured unified diff."""
    return Syntax(
        for_terminal(diff).rstrip("\n"), "diff", theme="ansi_dark", word_wrap=True, background_color="default"
    )


def _clip(text: str, lines: int = OUTPUT_LINES) -> str:
    text = for_terminal(text)  # [issue 13] no ESC/OSC sequence reaches the terminal through the TUI
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    return "\n".join(parts[:lines]) + f"\n… {len(parts) - lines} more lines"


class TurnView(Vertical):
    """One model turn: reasoning collapsed under "thinking", the visible text streamed as it comes."""

    def __init__(self, step: int) -> None:
        super().__init__(classes="turn -empty")
        self.step = step
        self._reasoning_parts: list[str] = []
        self._text_parts: list[str] = []
        self._render_pending = False
        self._complete = False
        self._reasoning = Static(classes="reasoning")
        self._thinking = Collapsible(self._reasoning, title="thinking", collapsed=True, classes="thinking")
        self._text = Static(classes="text")

    def compose(self) -> ComposeResult:
        yield self._thinking
        yield self._text

    def append(self, token: str, channel: Channel = "text") -> None:
        # Rendering per token is quadratic over a long turn: render at most once per screen
        # refresh, however many tokens arrived since the last one. Tool-call text is the cards'.
        if channel == "tool_call":
            return
        (self._reasoning_parts if channel == "reasoning" else self._text_parts).append(token)
        if not self._render_pending:
            self._render_pending = True
            self.call_after_refresh(self._show_stream)

    def _show_stream(self) -> None:
        self._render_pending = False
        if self._complete:
            return  # the finished turn is already shown
        reasoning, visible = "".join(self._reasoning_parts).strip(), "".join(self._text_parts).strip()
        self._show(for_terminal(reasoning), Text(for_terminal(visible)))

    def complete(self, event: ModelTurn) -> None:
        self._complete = True
        text = for_terminal(event.text.strip())
        self._show(for_terminal(event.reasoning.strip()), Markdown(text) if text else Text(""))

    def _show(self, reasoning: str, text: RenderableType) -> None:
        self._thinking.display = bool(reasoning)
        if reasoning:
            self._thinking.title = f"thinking ({len(reasoning.split())} words)"
            self._reasoning.update(Text(reasoning, style="dim italic"))
        visible = not (isinstance(text, Text) and not text.plain)
        self._text.display = visible
        self._text.update(text)
        self.set_class(not (reasoning or visible), "-empty")


class ToolCard(Collapsible):
    """A tool call: tool, main argument, status and duration; expands to the output (edits: a diff)."""

    def __init__(self, event: ToolCalled) -> None:
        self._body = Static(classes="output")
        super().__init__(
            self._body,
            # plain Content: `[/x]` is text; Textual takes Content at run time, typed as str
            title=Content(card_title(event.name, event.arguments, "running")),  # type: ignore[arg-type]
            collapsed=True,
            classes="card -running",
        )
        self.call = event
        self.status = "running"

    def set_status(self, status: str, duration: float | None = None) -> None:
        self.status = status
        self.title = Content(card_title(self.call.name, self.call.arguments, status, duration))  # type: ignore[assignment]
        # One style update, not one per class: a resumed session sets hundreds of cards at once.
        kept = [name for name in self.classes if name not in _STATUS_CLASSES]
        self.set_classes([*kept, f"-{status}"])

    def complete(self, event: ObservationMade) -> None:
        status = "ok" if event.ok else "rejected" if event.data.get("error") == "rejected" else "failed"
        self.set_status(status, event.duration)
        diff = event.data.get("diff")
        problems = event.data.get("diagnostics") or []
        if (
            shows_diff(builtin_effect(event.name))
            and (event.ok or problems)
            and isinstance(diff, str)
            and diff
        ):
            found = Text("\n".join(f"{p['path']}:{p['line']}: {p['message']}" for p in problems), style="red")
            self._body.update(
                Group(diff_renderable(_clip(diff)), found) if problems else diff_renderable(_clip(diff))
            )
            self.collapsed = False
        else:
            self._body.update(Text(_clip(event.text.rstrip()) or "(no output)"))


class Conversation(VerticalScroll):
    """Everything that happened in the session, newest at the bottom, following the output."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own keyword
        super().__init__(id=id, can_focus=False)
        self._turns: dict[int, TurnView] = {}
        self._cards: dict[str, ToolCard] = {}
        self._run = 0

    def _follow(self) -> None:
        """Keep the newest output in view, unless the person scrolled up to read something."""
        if self.scroll_y >= self.max_scroll_y - 1:
            self.call_after_refresh(self.scroll_end, animate=False)

    def _append(self, widget: Widget) -> None:
        self._follow()
        self.mount(widget)

    def clear(self) -> None:
        """Empty the pane (Ctrl+L, a new session); later events start fresh views."""
        self._turns.clear()
        self._cards.clear()
        self.remove_children()

    def add_user(self, text: str) -> None:
        self._run += 1
        self._turns.clear()
        self._cards.clear()
        self._append(Static(Text(f"› {text}"), classes="user"))

    def add_note(self, text: str, level: str = "info") -> None:
        self._append(Static(Text(text), classes=f"note -{level}"))

    def turn(self, step: int) -> TurnView:
        if step not in self._turns:
            self._turns[step] = TurnView(step)
            self._append(self._turns[step])
        return self._turns[step]

    def token(self, step: int, text: str, channel: Channel = "text") -> None:
        self._follow()
        self.turn(step).append(text, channel)

    def model_turn(self, event: ModelTurn) -> None:
        self._follow()
        self.turn(event.step).complete(event)

    def tool_called(self, event: ToolCalled) -> None:
        card = ToolCard(event)
        self._cards[event.call_id] = card
        self._append(card)

    def card(self, call_id: str) -> ToolCard | None:
        return self._cards.get(call_id)

    def observed(self, event: ObservationMade) -> None:
        card = self._cards.get(event.call_id)
        if card is not None:
            self._follow()
            card.complete(event)

    def finished(self, event: RunFinished) -> None:
        for card in self._cards.values():
            if card.status in ("running", "asking"):
                card.set_status("skipped")
        lines = [f"{event.status}: {compact(event.reason, 200)}"]
        if event.branch:
            commit = (event.commit or "")[:12]
            lines.append(f"branch {event.branch}" + (f" · commit {commit}" if commit else ""))
        if event.summary:
            lines.append(compact(event.summary, 300))
        self._append(Static(Text("\n".join(lines)), classes=f"finished -{event.status}"))
