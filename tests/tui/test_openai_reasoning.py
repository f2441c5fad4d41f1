"""`qcode tui --engine openai` against a server that parses reasoning: the reasoning is folded
under "thinking" while the turn is still streaming, never shown as answer text."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from qcode.config import load_settings
from qcode.tui.app import QcodeApp
from qcode.tui.widgets.conversation import TurnView
from tests.engines.fake_openai import Behaviour, fake_openai_server
from tests.tui.conftest import until
from tests.tui.test_app import finished_texts, quit_app

pytestmark = pytest.mark.docker

REASONING = "The bug is the plus one in the divisor, so the mean is low."


def test_reasoning_streams_folded_before_the_answer(buggy_repo: Path) -> None:
    go_on = threading.Event()
    behaviour = Behaviour(
        answers=[
            {
                "reasoning": REASONING,
                "content": "Nothing to change here.",
                "tool_calls": [("finish", '{"summary": "explained"}')],
            }
        ],
        pause_after_reasoning=go_on,
    )

    async def scenario(url: str) -> None:
        settings = load_settings({"engine": "openai", "openai_base_url": url, "approval": "yolo"}, buggy_repo)
        app = QcodeApp(settings.settings, buggy_repo)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.state == "idle", "the session to be ready")
            await pilot.press(*"why is mean low?", "enter")

            def streamed_reasoning() -> TurnView | None:
                turns = list(app.query(TurnView))
                if turns and turns[-1]._thinking.display and "plus one" in str(turns[-1]._reasoning.render()):
                    return turns[-1]
                return None

            await until(pilot, lambda: streamed_reasoning() is not None, "the reasoning to stream")
            turn = streamed_reasoning()
            assert turn is not None and turn._thinking.collapsed  # folded, while the server waits
            assert turn._thinking.title.startswith("thinking (")
            assert not turn._text.display  # no answer text yet, and the reasoning is not shown as one
            go_on.set()
            await until(pilot, lambda: len(finished_texts(app)) == 1, "the run to finish")
            answer = turn._text.content  # the finished turn: its text as Markdown
            assert "Nothing to change here." in answer.markup and REASONING not in answer.markup
            await quit_app(pilot, app)

    try:
        with fake_openai_server(behaviour) as url:
            asyncio.run(scenario(url))
    finally:
        go_on.set()
