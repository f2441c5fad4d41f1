"""The message editor on its own, in a bare Textual app: sending, new lines, pastes, history, completion."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual import events, on
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button

from qcode.tui.prompt import InputHistory, PromptInput
from qcode.tui.slash import command_names

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "stats.py", line 2, in mean\n'
    "ZeroDivisionError: division by zero"
)


class _Editor(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []
        self.help_asked = 0

    def compose(self) -> ComposeResult:
        yield PromptInput(commands=command_names, id="prompt")
        yield Button("elsewhere")

    @on(PromptInput.Submitted)
    def _sent(self, event: PromptInput.Submitted) -> None:
        self.sent.append(event.text)
        event.prompt.clear_sent(event.text)

    @on(PromptInput.HelpRequested)
    def _help(self) -> None:
        self.help_asked += 1


def run(scenario: Callable[[Pilot[Any], _Editor, PromptInput], Awaitable[None]]) -> None:
    async def main() -> None:
        app = _Editor()
        async with app.run_test(size=(80, 24)) as pilot:
            prompt = app.query_one(PromptInput)
            prompt.focus()
            await pilot.pause()
            await scenario(pilot, app, prompt)

    asyncio.run(main())


def test_a_pasted_traceback_arrives_whole_and_enter_sends_it() -> None:
    async def scenario(pilot: Pilot[Any], app: _Editor, prompt: PromptInput) -> None:
        await pilot.press(*"fix this:", "ctrl+j")
        app.post_message(events.Paste(TRACEBACK))  # as the driver posts a bracketed paste
        await pilot.pause()
        assert app.sent == [] and prompt.text == "fix this:\n" + TRACEBACK  # a paste never sends
        await pilot.press("enter")
        assert app.sent == ["fix this:\n" + TRACEBACK] and prompt.text == ""

    run(scenario)


def test_a_paste_right_behind_ctrl_j_lands_after_the_new_line() -> None:
    async def scenario(pilot: Pilot[Any], app: _Editor, prompt: PromptInput) -> None:
        await pilot.press("a")
        # As the terminal driver delivers them: the key and the paste back to back, in one burst.
        app.post_message(events.Key("ctrl+j", "\n"))
        app.post_message(events.Paste("b\nc"))
        await pilot.pause()
        assert prompt.text == "a\nb\nc"

    run(scenario)


def test_shift_enter_and_ctrl_j_start_a_line_enter_sends() -> None:
    async def scenario(pilot: Pilot[Any], app: _Editor, prompt: PromptInput) -> None:
        await pilot.press("a", "shift+enter", "b", "ctrl+j", "c")
        assert prompt.text == "a\nb\nc" and app.sent == []
        await pilot.press("enter")
        assert app.sent == ["a\nb\nc"]

    run(scenario)


@pytest.mark.slow
def test_up_and_down_recall_messages_at_the_first_and_last_line() -> None:
    async def scenario(pilot: Pilot[Any], app: _Editor, prompt: PromptInput) -> None:
        for message in ("first", "second\nline two"):
            prompt.insert(message)
            await pilot.press("enter")
        await pilot.press(*"draft")
        await pilot.press("up")
        assert prompt.text == "second\nline two"
        await pilot.press("up")  # the cursor is on the last line of the recalled text: up moves in it
        assert prompt.text == "second\nline two" and prompt.cursor_location[0] == 0
        await pilot.press("up")
        assert prompt.text == "first"
        await pilot.press("up")  # the oldest: stays
        assert prompt.text == "first"
        await pilot.press("down")
        assert prompt.text == "second\nline two"
        await pilot.press("down", "down")  # last line, then past the newest: the draft comes back
        assert prompt.text == "draft"

    run(scenario)


def test_question_mark_in_an_empty_prompt_asks_for_help_elsewhere_it_is_text() -> None:
    async def scenario(pilot: Pilot[Any], app: _Editor, prompt: PromptInput) -> None:
        await pilot.press("question_mark")
        assert app.help_asked == 1 and prompt.text == ""
        await pilot.press("w", "h", "y", "question_mark")
        assert app.help_asked == 1 and prompt.text == "why?"

    run(scenario)


@pytest.mark.slow
def test_tab_completes_slash_commands_and_files() -> None:
    async def scenario(pilot: Pilot[Any], app: _Editor, prompt: PromptInput) -> None:
        prompt.files = ["src/stats.py", "src/util.py", "README.md"]
        await pilot.press("slash", "h", "e")
        assert prompt.completion is not None and prompt.completion.candidates == ("/help",)
        await pilot.press("tab")
        assert prompt.text == "/help " and app.focused is prompt
        prompt.clear()
        await pilot.press(*"look at @sta")
        await pilot.press("tab")
        assert prompt.text == "look at @src/stats.py " and app.focused is prompt
        await pilot.press("tab")  # nothing on offer: Tab moves focus as everywhere
        assert app.focused is not prompt

    run(scenario)


def test_history_is_capped_and_skips_repeats() -> None:
    history = InputHistory(cap=3)
    for text in ("a", "b", "b", "c", "d"):
        history.remember(text)
    assert history.entries == ["b", "c", "d"]
    assert history.newer() is None  # not browsing
