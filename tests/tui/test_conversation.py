"""The conversation pane on its own, in a bare Textual app: streaming stays cheap on long turns."""

from __future__ import annotations

import asyncio

import pytest
from qcode.agent.contracts import Usage
from qcode.agent.events import ModelTurn
from textual.app import App, ComposeResult

from qcode.tui.widgets import conversation as pane


class _Pane(App[None]):
    def compose(self) -> ComposeResult:
        yield pane.Conversation(id="conversation")


def test_a_burst_of_tokens_renders_once_per_refresh_and_the_final_turn_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    splits: list[str] = []
    real_show = pane.TurnView._show

    def counting_show(turn: pane.TurnView, reasoning: str, text: object) -> None:
        splits.append(reasoning)
        real_show(turn, reasoning, text)  # type: ignore[arg-type]

    monkeypatch.setattr(pane.TurnView, "_show", counting_show)

    async def scenario() -> None:
        app = _Pane()
        async with app.run_test(size=(80, 24)) as pilot:
            view = app.query_one(pane.Conversation)
            thoughts = [f" thought{i}" for i in range(500)]
            for token in thoughts:  # one burst, as when tokens arrive faster than the screen refreshes
                view.token(1, token, "reasoning")
            for token in ["Done", " here.", "<function=x>"]:
                view.token(1, token, "tool_call" if token.startswith("<") else "text")
            await pilot.pause()
            turn = view.turn(1)
            assert len(splits) == 1 and splits[0] == "".join(thoughts).strip()
            assert str(turn._text.render()) == "Done here." and turn._thinking.title == "thinking (500 words)"
            view.token(1, " more")  # a render still pending when the turn completes must not win
            view.model_turn(
                ModelTurn(
                    step=1,
                    phase="executor",
                    text="**Final**",
                    reasoning="r",
                    raw="",
                    tool_calls=[],
                    usage=Usage(),
                    duration=1.0,
                )
            )
            await pilot.pause()
            # the finished turn rendered once more, and the pending stream render did not follow it
            assert splits[1:] == ["r"] and "more" not in str(turn._text.render())

    asyncio.run(scenario())
