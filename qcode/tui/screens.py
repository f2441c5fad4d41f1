"""Modal screens: the approval prompt, the branch's diff, the list of past sessions."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, OptionList, Static

from qcode.agent.policy import Request
from qcode.agent.untrusted import for_terminal
from qcode.tui.approval import Decision
from qcode.tui.history import SessionRow
from qcode.tui.view_model import compact
from qcode.tui.widgets.conversation import diff_renderable

__all__ = ["ApprovalScreen", "DiffScreen", "SessionsScreen", "call_preview"]


def call_preview(request: Request) -> RenderableType:
    """What the person approves: the command, or the file change as -/+ lines (by the arguments a
    write tool takes: a replacement, or a whole file)."""
    args = request.call.arguments
    if request.sandboxed_command:
        return Text(for_terminal(f"$ {request.command}"), style="bold")
    if request.effect == "write" and "old_text" in args:
        old = "".join(f"-{line}\n" for line in str(args.get("old_text", "")).splitlines())
        new = "".join(f"+{line}\n" for line in str(args.get("new_text", "")).splitlines())
        return diff_renderable(f"--- {args.get('path', '')}\n{old}{new}")
    if request.effect == "write" and "content" in args:
        lines = str(args.get("content", "")).splitlines()
        body = "".join(f"+{line}\n" for line in lines[:40])
        if len(lines) > 40:
            body += f"… {len(lines) - 40} more lines\n"
        return diff_renderable(f"+++ {args.get('path', '')}\n{body}")
    return Text(for_terminal(compact(args, 400)))


class ApprovalScreen(ModalScreen[Decision]):
    """Accept, reject, or always accept this command (file, for edits) for the rest of the session.

    Esc is the app's interrupt here too: it rejects the call and stops the run. The screen has its
    own footer, so it lists these four keys and not the app's (which do not apply while it waits).
    """

    BINDINGS = [
        Binding("y", "decide('accept')", "Yes"),
        Binding("n", "decide('reject')", "No"),
        Binding("a", "decide('always')", "Always"),
        Binding("escape", "app.interrupt", "Reject and interrupt"),
    ]

    def __init__(self, request: Request) -> None:
        super().__init__()
        self.request = request
        self.call = request.call

    def compose(self) -> ComposeResult:
        with Vertical(id="approval"):
            yield Label(Text(for_terminal(f"Allow {self.call.name}?"), style="bold"), id="approval-title")
            with VerticalScroll(id="approval-preview"):
                yield Static(call_preview(self.request))
            with Horizontal(id="approval-buttons"):
                yield Button("Yes (y)", variant="success", id="accept")
                yield Button("No (n)", variant="error", id="reject")
                yield Button("Always (a)", variant="primary", id="always")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#accept", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_decide(event.button.id or "reject")

    def action_decide(self, choice: str) -> None:
        self.dismiss(Decision(choice))


class DiffScreen(ModalScreen[None]):
    """The branch's diff so far, coloured; Esc or q closes it."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, diff: str) -> None:
        super().__init__()
        self.diff = diff

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="diff") as scroll:
            scroll.border_title = "diff (Esc closes)"
            empty = Text("No changes yet.", style="dim")
            yield Static(diff_renderable(self.diff) if self.diff.strip() else empty)

    def action_close(self) -> None:
        self.dismiss(None)


class SessionsScreen(ModalScreen["str | None"]):
    """This repository's past sessions, newest first; Enter resumes one, Esc goes back."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, rows: Sequence[SessionRow], hidden: int = 0) -> None:
        """`hidden`: how many sessions of other repositories are not listed."""
        super().__init__()
        self.rows, self.hidden = list(rows), hidden

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions") as box:
            box.border_title = "resume a session of this repository (Enter) · Esc closes"
            if self.hidden:
                others = "session" if self.hidden == 1 else "sessions"
                box.border_subtitle = f"{self.hidden} {others} of other repositories not listed"
            if self.rows:
                # plain Content: a past task's `[/x]` is text, never Textual markup or an action
                yield OptionList(*(Content(for_terminal(row.label())) for row in self.rows))
            else:
                yield Static(Text("No past sessions of this repository.", style="dim"))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.rows[event.option_index].id)

    def action_close(self) -> None:
        self.dismiss(None)
