"""The plan panel names the loop's phase and marks a failed step."""

from __future__ import annotations

import asyncio

from qcode.agent.contracts import PlanStep
from textual.app import App, ComposeResult

from qcode.tui.widgets import PlanPanel


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield PlanPanel()


def test_the_plan_panel_shows_the_phase_and_failed_steps() -> None:
    async def scenario() -> None:
        app = _Host()
        async with app.run_test(size=(60, 12)) as pilot:
            panel = app.query_one(PlanPanel)
            panel.phase = "planner"
            await pilot.pause()
            assert panel.border_title == "plan · planning"
            panel.plan = (PlanStep(step="read", status="done"), PlanStep(step="edit", status="failed"))
            panel.phase = "executor"
            await pilot.pause()
            assert panel.border_title == "plan 1/2 · executing"
            assert "✗ edit" in panel.render().plain
            panel.phase = ""  # a new session: no phase yet
            await pilot.pause()
            assert panel.border_title == "plan 1/2"

    asyncio.run(scenario())
