"""Every `/…` the person types goes through `handle_slash`: nothing that starts with `/` is ever sent
to the model as a task. One table of commands, so more (custom commands) can be added in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qcode.tui.app import QcodeApp

__all__ = ["COMMANDS", "SlashCommand", "command_names", "handle_slash"]


@dataclass(frozen=True)
class SlashCommand:
    name: str
    help: str
    run: Callable[[QcodeApp, str], object]
    """(app, the text after the command name) → anything; it reports through the app."""


def _help(app: QcodeApp, _: str) -> None:
    app.action_show_help()


def _quit(app: QcodeApp, _: str) -> None:
    app.call_next(app.action_quit)


def _clear(app: QcodeApp, _: str) -> None:
    app.start_new_session()


def _undo(app: QcodeApp, _: str) -> None:
    app.action_undo()


def _diff(app: QcodeApp, _: str) -> None:
    app.action_review_diff()


def _resume(app: QcodeApp, _: str) -> None:
    app.action_resume()


def _cost(app: QcodeApp, _: str) -> None:
    app.note(app.stats.cost_text())


COMMANDS: dict[str, SlashCommand] = {
    command.name: command
    for command in (
        SlashCommand("help", "every key and command", _help),
        SlashCommand("quit", "close the session and leave (Ctrl+Q)", _quit),
        SlashCommand("clear", "start a new session on this repository", _clear),
        SlashCommand("undo", "undo the last change to the workspace (Ctrl+Z)", _undo),
        SlashCommand("diff", "the branch's diff so far (Ctrl+R)", _diff),
        SlashCommand("resume", "resume a past session of this repository (Ctrl+O)", _resume),
        SlashCommand("cost", "tokens, cache hits and time so far", _cost),
    )
}


def command_names() -> list[str]:
    return list(COMMANDS)


def handle_slash(app: QcodeApp, text: str) -> None:
    """Run the command `text` names, or say it is unknown; never sends anything to the model."""
    name, _, argument = text.strip().removeprefix("/").partition(" ")
    command = COMMANDS.get(name.strip().lower())
    if command is None:
        shown = text.strip().split()[0] if text.strip() else "/"
        app.note(f"unknown command: {shown[:40]} — /help lists commands", "warning")
        return
    command.run(app, argument.strip())
