"""The prompt inside the real app (replay engine, real Docker, real git): what reaches the model, and
what never does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory
from textual import events
from textual.widgets._collapsible import CollapsibleTitle

from qcode.config import Settings
from qcode.tui.app import QcodeApp
from qcode.tui.help import HelpScreen
from qcode.tui.prompt import Completions
from qcode.tui.widgets import Conversation
from tests.e2e.helpers import raw_call
from tests.tui.conftest import BUGGY, until
from tests.tui.test_app import finished_texts, notes, quit_app, users
from tests.tui.test_prompt import TRACEBACK

pytestmark = pytest.mark.docker


def user_messages(app: QcodeApp) -> list[str]:
    assert app.session is not None
    if not app.session.trajectory_path.exists():
        return []
    return [r["text"] for r in read_trajectory(app.session.trajectory_path) if r["type"] == "user_message"]


def test_slash_commands_and_keys_never_send_a_task(
    buggy_repo: Path, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for([raw_call("finish", summary="unused")], "yolo", buggy_repo)

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.state == "idle", "the session to be ready")
            await pilot.press(*"/he")
            offered = app.query_one(Completions)
            await until(pilot, lambda: offered.display, "the completions")
            assert str(offered.render()).startswith("/help")
            await pilot.press("enter")  # sends "/he": an unknown command, not a task
            await pilot.press(*"/help", "enter")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help overlay")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")
            for text in ("/nope", "/ help", "/usr/bin/python crashes", "/cost"):
                app.prompt.insert(text)
                await pilot.press("enter")
            await until(pilot, lambda: len(notes(app)) == 5, "five notes")
            assert notes(app)[0] == "unknown command: /he — /help lists commands"
            assert notes(app)[1:4] == [
                "unknown command: /nope — /help lists commands",
                "unknown command: / — /help lists commands",
                "unknown command: /usr/bin/python — /help lists commands",
            ]
            assert notes(app)[4].startswith("cost: 0 prompt tokens (0% cached)")
            assert app.state == "idle" and user_messages(app) == [] and users(app) == []
            await pilot.press("f1")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help on F1")
            await pilot.press("f1")
            await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close on F1")
            await pilot.press("ctrl+l")
            await until(pilot, lambda: not app.query_one(Conversation).children, "the cleared screen")
            first = app.session_id
            app.prompt.insert("/clear")
            await pilot.press("enter")
            await until(pilot, lambda: app.state == "idle" and app.session_id != first, "a new session")
            await pilot.press("up")  # the history holds the commands typed
            assert app.prompt.text == "/clear"
            app.prompt.clear()
            await pilot.press(*"/quit", "enter")
            await until(pilot, lambda: app.return_code is not None, "/quit to close the app")
        assert app.return_code == 0

    asyncio.run(scenario())


def test_a_paste_and_an_at_file_reach_the_model_and_keys_typed_on_a_card_are_kept(
    buggy_repo: Path, settings_for: Callable[..., Settings]
) -> None:
    turns = [
        raw_call("read_file", path="stats.py"),
        raw_call("finish", summary="explained"),
        raw_call("write_file", path="stats.py", content="changed\n"),
        raw_call("finish", summary="changed it"),
        raw_call("finish", summary="read it"),
    ]
    settings = settings_for(turns, "yolo", buggy_repo)

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.state == "idle", "the session to be ready")
            await until(pilot, lambda: "stats.py" in app.prompt.files, "the files offered after @")
            await pilot.press(*"why @sta")
            await pilot.press("tab", *"fails:", "ctrl+j")
            app.post_message(events.Paste(TRACEBACK))  # as the terminal driver posts a bracketed paste
            await pilot.pause()
            await pilot.press("enter")
            await until(pilot, lambda: len(finished_texts(app)) == 1, "the run to finish")
            (task,) = user_messages(app)
            assert f"why @stats.py fails:\n{TRACEBACK}" in task  # every line of the paste
            assert f'<file path="stats.py">\n{BUGGY}\n</file>' in task
            assert users(app)[0].endswith("  + @stats.py")
            assert finished_texts(app)[0].startswith("unresolved: finished without changing any file")
            # Tab moves focus to a card; typed keys and a paste still land in the prompt.
            while not isinstance(app.focused, CollapsibleTitle):
                await pilot.press("tab")
            await pilot.press("o", "k", "space")
            assert app.focused is app.prompt and app.prompt.text == "ok "
            while not isinstance(app.focused, CollapsibleTitle):
                await pilot.press("tab")
            app.post_message(events.Paste("more\nlines"))
            await until(pilot, lambda: app.prompt.text == "ok more\nlines", "the paste in the prompt")
            while not isinstance(app.focused, CollapsibleTitle):
                await pilot.press("tab")
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help on ? off the prompt")
            await pilot.press("escape")
            app.prompt.clear()
            await pilot.press(*"change it", "enter")
            await until(pilot, lambda: len(finished_texts(app)) == 2, "the follow-up to finish")
            await pilot.press(*"now @stats.py", "enter")  # after a run: read from the workspace
            await until(pilot, lambda: len(finished_texts(app)) == 3, "the third run to finish")
            assert user_messages(app)[-1] == 'now @stats.py\n\n<file path="stats.py">\nchanged\n\n</file>'
            await quit_app(pilot, app)
        assert app.return_code == 0

    asyncio.run(scenario())


def test_custom_commands_from_the_repo_and_the_user_are_sent_as_their_prompts(
    make_repo: Callable[[dict[str, str]], Path],
    settings_for: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = make_repo(
        {
            "stats.py": BUGGY,
            ".qcode/commands/explain.md": "---\ndescription: Explain\n---\nExplain why $ARGUMENTS fails.\n",
        }
    )
    user = tmp_path / "xdg"
    (user / "qcode" / "commands").mkdir(parents=True)
    (user / "qcode" / "commands" / "tidy.md").write_text("Tidy up $ARGUMENTS without changing behaviour.\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user))
    settings = settings_for(
        [raw_call("finish", summary="one"), raw_call("finish", summary="two")], "yolo", repo
    )

    async def scenario() -> None:
        app = QcodeApp(settings, repo)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.state == "idle", "the session to be ready")
            await pilot.press(*"/exp")
            offered = app.query_one(Completions)
            await until(pilot, lambda: offered.display, "the completions")
            assert str(offered.render()).startswith("/explain")  # custom commands complete too
            app.prompt.clear()
            app.prompt.insert("/explain mean()")
            await pilot.press("enter")
            await until(pilot, lambda: len(finished_texts(app)) == 1, "the first run")
            app.prompt.insert("/tidy stats.py")
            await pilot.press("enter")
            await until(pilot, lambda: len(finished_texts(app)) == 2, "the second run")
            sent = user_messages(app)
            assert "Explain why mean() fails." in sent[0] and "/explain mean()" not in sent[0]
            assert (
                "Tidy up stats.py without changing behaviour." in sent[1] and "/tidy stats.py" not in sent[1]
            )
            assert users(app)[:2] == ["› /explain mean()", "› /tidy stats.py"]
            await quit_app(pilot, app)
        assert app.return_code == 0

    asyncio.run(scenario())
