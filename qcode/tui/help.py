"""The help overlay (F1, `?`, /help): every key and every slash command, on one screen."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from qcode.tui.slash import COMMANDS

__all__ = ["KEYS", "HelpScreen", "help_table", "key_label"]

KEYS: tuple[tuple[str, str], ...] = (
    ("enter", "send the message (a task or a follow-up)"),
    ("shift+enter, ctrl+j", "new line in the message"),
    ("up, down", "earlier / later messages (first / last line)"),
    ("tab", "complete a /command or @file, else next focus"),
    ("@path", "attach that file's content (Tab completes)"),
    ("escape", "interrupt the run (rejects a waiting prompt)"),
    ("ctrl+r", "the branch's diff so far"),
    ("ctrl+z", "undo the last change to the workspace"),
    ("ctrl+o", "resume a past session of this repository"),
    ("ctrl+l", "clear the screen (the session goes on)"),
    ("f1, ?", "this help (? in an empty or unfocused prompt)"),
    ("ctrl+q", "close the session and quit"),
)
"""Keys of the main screen, in the order a newcomer needs them."""
APPROVAL_KEYS: tuple[tuple[str, str], ...] = (
    ("y", "accept this call"),
    ("n", "reject it (the model is told)"),
    ("a", "accept, and stop asking for this command or file"),
    ("escape", "reject and interrupt the run"),
)


def key_label(keys: str) -> str:
    """'ctrl+r, f1, y' → 'Ctrl+R, F1, y' (what the person presses, as terminals print it)."""
    named = {"escape": "Esc", "enter": "Enter", "tab": "Tab", "up": "↑", "down": "↓"}
    labels = []
    for key in (k.strip() for k in keys.split(",")):
        *modifiers, last = key.split("+") if len(key) > 1 else [key]
        shown = named.get(last, last.upper() if modifiers or len(last) > 1 and last[0] == "f" else last)
        labels.append("+".join([*(m.capitalize() for m in modifiers), shown]))
    return ", ".join(labels)


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for keys, what in KEYS:
        table.add_row(key_label(keys), what)
    table.add_row("", "")
    table.add_row(Text("approval prompt", style="bold"), "")
    for keys, what in APPROVAL_KEYS:
        table.add_row(key_label(keys), what)
    table.add_row("", "")
    table.add_row(
        Text("commands", style="bold"), Text("(a message that starts with / is never sent as a task)")
    )
    for command in COMMANDS.values():
        table.add_row(f"/{command.name}", command.help)
    return table


class HelpScreen(ModalScreen[None]):
    """Esc, q, F1 or ? closes it."""

    BINDINGS = [Binding("escape,q,f1,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = "keys and commands (Esc closes)"
            yield Static(help_table())

    def action_close(self) -> None:
        self.dismiss(None)
