"""Snapshots of the main screens at 80×24 and 120×40, fed a fixed list of loop events.

Deterministic: a frozen clock, fixed durations and token counts, no session id or timestamp on screen.
Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from qcode.agent.contracts import PlanStep, ToolCall, Usage
from qcode.agent.events import (
    ModelTurn,
    ObservationMade,
    PlanUpdated,
    RunFinished,
    SessionStarted,
    TokenStreamed,
    ToolCalled,
    TurnStarted,
)
from qcode.tools.builtin import default_registry
from textual.pilot import Pilot

from qcode.config import Settings
from qcode.tui.app import QcodeApp
from qcode.tui.prompt import PromptInput
from qcode.tui.screens import ApprovalScreen
from qcode.tui.widgets import Conversation

pytestmark = pytest.mark.docker  # the app opens a (never started) session, which checks the sandbox image

DIFF = (
    "--- a/stats.py\n+++ b/stats.py\n@@ -1,2 +1,2 @@\n def mean(values):\n"
    "-    return sum(values) / (len(values) + 1)\n+    return sum(values) / len(values)\n"
)
PYTEST_FAIL = (
    "F                                                                        [100%]\n"
    "FAILED test_stats.py::test_mean - assert 3.0 == 4\n1 failed in 0.02s\n[exit code: 1]"
)


def _turn(step: int, calls: list[ToolCall], text: str = "", reasoning: str = "") -> list[Any]:
    usage = Usage(prompt_tokens=2000 * step, completion_tokens=60, cached_tokens=1800 * step - 1800)
    return [
        TurnStarted(step=step, phase="planner" if step == 1 else "executor"),
        TokenStreamed(step=step, text=text),
        ModelTurn(
            step=step,
            phase="executor",
            text=text,
            reasoning=reasoning,
            raw=None,
            tool_calls=calls,
            usage=usage,
            duration=2.0,
            time_to_first_token=0.5,
        ),
    ]


def _tool(step: int, call: ToolCall, ok: bool, text: str, duration: float, **data: Any) -> list[Any]:
    return [
        ToolCalled(step=step, call_id=call.id, name=call.name, arguments=call.arguments),
        ObservationMade(
            step=step, call_id=call.id, name=call.name, ok=ok, text=text, data=data, duration=duration
        ),
    ]


def session_events() -> list[Any]:
    plan1 = [PlanStep(step="Reproduce the failure", status="in_progress"), PlanStep(step="Fix mean")]
    plan2 = [PlanStep(step="Reproduce the failure", status="done"), PlanStep(step="Fix mean", status="done")]
    c1 = ToolCall(id="c1", name="update_plan", arguments={"plan": [s.model_dump() for s in plan1]})
    c2 = ToolCall(id="c2", name="shell", arguments={"command": "python -m pytest -q"})
    c3 = ToolCall(id="c3", name="edit_file", arguments={"path": "stats.py", "old_text": "x", "new_text": "y"})
    c4 = ToolCall(id="c4", name="update_plan", arguments={"plan": [s.model_dump() for s in plan2]})
    c5 = ToolCall(id="c5", name="finish", arguments={"summary": "mean divided by len+1; now by len."})
    return [
        SessionStarted(
            session_id="S",
            repo="repo",
            base_commit="0" * 40,
            branch="qcode/fix-mean",
            workspace="w",
            trajectory="t",
            task="fix mean",
            engine="replay",
        ),
        *_turn(1, [c1]),
        *_tool(1, c1, True, "Plan updated", 0.001),
        PlanUpdated(step=1, plan=plan1),
        *_turn(2, [c2], "Running the tests first.", "The tests will show the bug."),
        *_tool(2, c2, False, PYTEST_FAIL, 1.52),
        *_turn(3, [c3]),
        *_tool(3, c3, True, "Edited stats.py", 0.004, diff=DIFF),
        *_turn(4, [c4]),
        *_tool(4, c4, True, "Plan updated", 0.001),
        PlanUpdated(step=4, plan=plan2),
        *_turn(5, [c5]),
        *_tool(5, c5, True, "Finishing", 0.0),
        RunFinished(
            status="resolved",
            reason="finished",
            branch="qcode/fix-mean",
            commit="5c1e0ab93f2d77aa",
            patch="p",
            steps=5,
            usage=Usage(),
            summary="mean divided by len+1; now by len.",
        ),
    ]


def _app(settings_for: Callable[..., Settings], repo: Path) -> QcodeApp:
    return QcodeApp(settings_for([{"content": "unused"}], "ask", repo), repo, clock=lambda: 0.0)


async def _ready(pilot: Pilot[Any]) -> None:
    """The session is open and the cursor does not blink (a blink would flip the snapshot)."""
    await pilot.app.workers.wait_for_complete()
    pilot.app.query_one(PromptInput).cursor_blink = False
    await pilot.pause()


async def _replay_session(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, QcodeApp)
    await _ready(pilot)
    app.query_one(Conversation).add_user("fix mean: mean([2, 4, 6]) returns 3")
    for event in session_events():
        app.post_message(QcodeApp.LoopEvent(event))
    await pilot.pause()
    app.state = "idle"
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_finished_session(snap_compare, settings_for, buggy_repo: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(settings_for, buggy_repo), terminal_size=size, run_before=_replay_session)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_approval_prompt(snap_compare, settings_for, buggy_repo: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def ask(pilot: Pilot[Any]) -> None:
        await _replay_session(pilot)
        await pilot.app.push_screen(
            ApprovalScreen(
                default_registry().request(
                    ToolCall(id="c9", name="shell", arguments={"command": "rm -rf build && make"})
                )
            )
        )
        await pilot.pause()

    assert snap_compare(_app(settings_for, buggy_repo), terminal_size=size, run_before=ask)


def test_empty_app(snap_compare, settings_for, buggy_repo: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(settings_for, buggy_repo), terminal_size=(80, 24), run_before=_ready)


def test_help_overlay(snap_compare, settings_for, buggy_repo: Path) -> None:  # type: ignore[no-untyped-def]
    async def help_open(pilot: Pilot[Any]) -> None:
        await _ready(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(_app(settings_for, buggy_repo), terminal_size=(80, 24), run_before=help_open)
