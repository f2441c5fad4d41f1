"""What happens to what the person types: `/…` goes to the slash commands, a message becomes a task
(with its `@files` attached), and keys or pastes that arrive while a card has focus reach the prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING

import docker.errors
from textual import events

from qcode.tui.attach import Attached, attach_files
from qcode.tui.slash import handle_slash, ready_to_send

if TYPE_CHECKING:
    from qcode.tui.app import QcodeApp
    from qcode.tui.prompt import PromptInput

__all__ = ["send", "stray_key", "stray_paste"]


def send(app: QcodeApp, prompt: PromptInput, text: str) -> None:
    """Enter in the prompt. Nothing that starts with `/` is ever sent to the model."""
    text = text.strip()
    if not text:
        return
    if text.startswith("/"):
        prompt.clear_sent(text)
        handle_slash(app, text)
        return
    if not ready_to_send(app):
        return
    attached = _attach(app, text)
    _attach_images(app, text)
    prompt.clear_sent(text)
    app.conversation.add_user(text + "".join(f"\n  + @{name}" for name in attached.files))
    for line in attached.notes:
        app.note(line, "warning")
    app.start_run(attached.message)


def _attach(app: QcodeApp, text: str) -> Attached:
    """`@files` from the session's workspace (the sandbox frozen meanwhile, as for host git), or
    from the repository before the first run."""
    session = app.session
    if session is None or not session.workspace.path.is_dir():
        return attach_files(text, app.repo)
    if "@" not in text:
        return Attached(message=text)  # no need to freeze the sandbox
    try:
        with session.workspace.guard():
            return attach_files(text, session.workspace.path)
    except docker.errors.DockerException:  # could not freeze it: the O_NOFOLLOW reader still holds
        return attach_files(text, session.workspace.path)


def _attach_images(app: QcodeApp, text: str) -> None:
    """Image files the message names by path (a dragged-in screenshot) go with it, as `/image`."""
    from qcode.agent.exceptions import UserError
    from qcode.images import VisionEngine, check_engine_takes_images, image_paths_in

    engine = app._engine
    paths = image_paths_in(text) if "/" in text else []
    if not paths or not isinstance(engine, VisionEngine) or engine.store is None:
        return
    try:
        check_engine_takes_images(app.settings)
        engine.store.attach(paths)
    except UserError as err:
        app.note(str(err), "warning")
        return
    app.note("attached " + ", ".join(path.name for path in paths))


def _elsewhere(app: QcodeApp) -> bool:
    """The main screen is up and something other than the prompt has focus (a card, or nothing)."""
    return app.screen is app.screen_stack[0] and app.focused is not app.prompt


def stray_key(app: QcodeApp, event: events.Key) -> None:
    """`?` opens help; another printable key goes to the prompt, so none is lost after Tab."""
    if not _elsewhere(app):
        return
    if event.character == "?":
        event.stop()
        event.prevent_default()  # else the help screen's own `?` binding would close it at once
        app.action_show_help()
    elif event.is_printable and event.character:
        event.stop()
        event.prevent_default()
        app.prompt.focus()
        app.prompt.insert(event.character)


def stray_paste(app: QcodeApp, event: events.Paste) -> None:
    """Textual gives a paste to whatever has focus; a card would drop it."""
    if _elsewhere(app):
        event.stop()
        app.prompt.focus()
        app.prompt.insert(event.text)
