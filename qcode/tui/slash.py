"""Every `/…` the person types goes through `handle_slash`: nothing that starts with `/` is ever sent
to the model as a task. One table of commands, so more (custom commands) can be added in one place."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qcode.agent.commands import Expanded, expand_command, list_commands, user_commands_dir
from qcode.agent.exceptions import UserError
from qcode.agent.untrusted import for_terminal

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


def _mcp(app: QcodeApp, _: str) -> None:
    from qcode.config import user_config_path
    from qcode.tools.mcp.listing import server_rows

    try:
        rows = server_rows(user_config_path(), app.repo, app.settings.state_dir)
    except UserError as err:  # e.g. a .mcp.json qcode cannot read: say so, keep the app
        app.note(str(err), "warning")
        return
    if not rows:
        app.note("No MCP servers: add one with `qcode mcp add` (see the README's MCP section).")
        return
    lines = (f"{row['name']} ({row['source']}, {row['status']}): {row['runs']}" for row in rows)
    app.note(for_terminal("\n".join(lines)))  # a repository's proposal is untrusted text


def _image(app: QcodeApp, argument: str) -> None:
    """Attach a screenshot to the next message (kept in the session folder, never the workspace)."""
    from qcode.images import VisionEngine, check_engine_takes_images

    engine, session = app._engine, app.session
    if not argument:
        app.note("usage: /image PATH (a PNG, JPEG, WebP or GIF of at most 10 MB)", "warning")
        return
    if app.state in BUSY:  # it would ride on whatever message the running loop sends next
        app.note("a run is in progress; attach the image when it is done", "warning")
        return
    if session is None or not isinstance(engine, VisionEngine) or engine.store is None:
        app.note("the session is not ready yet; attach the image once it is", "warning")
        return
    path = Path(argument.strip().strip("'\"")).expanduser()
    try:
        check_engine_takes_images(app.settings)
        engine.store.attach([path])
    except UserError as err:
        app.note(str(err), "warning")
        return
    app.note(f"attached {for_terminal(path.name)}: it goes with your next message")


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
        SlashCommand("mcp", "the MCP servers of your config and this repository's proposals", _mcp),
        SlashCommand("image", "attach a screenshot to your next message: /image PATH", _image),
    )
}


def command_names(repo: Path | None = None) -> list[str]:
    """The built-ins, then the custom commands of `repo` and of the user (for completion)."""
    names = list(COMMANDS)
    if repo is not None:
        folders = (repo / ".qcode" / "commands", user_commands_dir())
        names += [name for name in _custom_names(repo, *map(_mtime, folders)) if name not in COMMANDS]
    return names


@functools.lru_cache(maxsize=8)
def _custom_names(repo: Path, *_versions: float) -> tuple[str, ...]:
    """Read once per version of the two folders (their mtimes), not on every key typed."""
    return tuple(list_commands(repo, user_commands_dir()))


def _mtime(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except OSError:
        return 0.0


def handle_slash(app: QcodeApp, text: str) -> None:
    """Run the command `text` names, or say it is unknown; never sends anything to the model."""
    name, _, argument = text.strip().removeprefix("/").partition(" ")
    command = COMMANDS.get(name.strip().lower())
    if command is None:
        custom = expand_command(text.strip(), app.repo, user_commands_dir())
        if custom is not None:
            _run_custom(app, text.strip(), custom)
            return
        shown = text.strip().split()[0] if text.strip() else "/"
        app.note(f"unknown command: {shown[:40]} — /help lists commands", "warning")
        return
    command.run(app, argument.strip())


BUSY = ("running", "asking", "stopping", "closing")


def ready_to_send(app: QcodeApp) -> bool:
    """Whether a task or follow-up may start now; otherwise says why (a run is going, or the engine
    failed). A message and a custom command are both held to it."""
    if app.state in BUSY:
        app.notify("A run is in progress: wait for it, or press Esc to interrupt it.", severity="warning")
        return False
    if app.state == "error":
        app.notify("The engine did not start; see the error above. Ctrl+Q quits.", severity="error")
        return False
    return True


def _run_custom(app: QcodeApp, typed: str, custom: Expanded) -> None:
    """A custom command (`.qcode/commands/` or the user's) is sent as the task it expands to."""
    if not ready_to_send(app):
        return
    if custom.command.allowed_tools is not None:
        # The tool list opens the prompt of a session that is already running: narrowing it here would
        # throw away the prefix cache, so the TUI keeps the session's tools (approvals still apply).
        app.note(f"/{custom.command.name}: allowed-tools narrows tools only in `qcode fix`", "warning")
    app.conversation.add_user(typed)
    app.start_run(custom.prompt)
