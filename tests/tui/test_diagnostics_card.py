"""An edit that broke a file's syntax: its tool card shows the diff and the diagnostics."""

from __future__ import annotations

import asyncio
import io

from qcode.agent.events import ObservationMade, ToolCalled
from rich.console import Console
from textual.app import App, ComposeResult

from qcode.tui.widgets import conversation as pane

DIFF = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a + b\n+    return (a + b\n"
)


class _Pane(App[None]):
    def compose(self) -> ComposeResult:
        yield pane.Conversation(id="conversation")


def test_a_card_shows_the_diff_and_the_problems_of_a_breaking_edit() -> None:
    async def scenario() -> None:
        app = _Pane()
        async with app.run_test(size=(100, 40)) as pilot:
            view = app.query_one(pane.Conversation)
            view.tool_called(
                ToolCalled(step=1, call_id="c1", name="edit_file", arguments={"path": "calc.py"})
            )
            problems = [{"path": "calc.py", "line": 2, "message": "`(` is never closed", "source": "syntax"}]
            view.observed(
                ObservationMade(
                    step=1,
                    call_id="c1",
                    name="edit_file",
                    ok=False,
                    text="Edited calc.py:\n" + DIFF + "\nDiagnostics: ...",
                    data={"diff": DIFF, "diagnostics": problems},
                    duration=0.01,
                )
            )
            await pilot.pause()
            card = view.card("c1")
            assert card is not None and card.status == "failed" and not card.collapsed
            console = Console(width=100, record=True, file=io.StringIO())
            console.print(card._body.content)  # what the card's body was given to draw
            shown = console.export_text()
            assert "calc.py:2: `(` is never closed" in shown and "return (a + b" in shown

    asyncio.run(scenario())
