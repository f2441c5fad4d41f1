"""Esc and Ctrl+Q while `sleep 30` runs: the command is killed at once, then the run stops.

The 2 s bounds are correctness bounds (the command would otherwise run 30 s), not speed goals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory

from qcode.config import Settings
from qcode.tui.app import QcodeApp
from qcode.tui.widgets import ToolCard
from tests.e2e.helpers import qcode_containers, raw_call
from tests.tui.conftest import until

pytestmark = pytest.mark.docker

SLEEPY = [
    raw_call("shell", command="touch began; sleep 30"),
    # after Esc, the follow-up:
    raw_call("shell", command="echo awake"),
    raw_call("finish", summary="awake"),
]


def _sleeping(app: QcodeApp) -> bool:
    session = app.session
    return session is not None and (session.workspace.path / "began").exists()


async def _start_sleep(pilot, app: QcodeApp) -> None:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: app.state == "idle", "the session to be ready")
    await pilot.press(*"sleep", "enter")
    await until(pilot, lambda: _sleeping(app), "the sleep 30 to start")


def test_escape_kills_a_30s_command_and_returns_to_idle_within_2s(
    buggy_repo: Path, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for(SLEEPY, "yolo", buggy_repo)

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(120, 40)) as pilot:
            await _start_sleep(pilot, app)
            pressed = time.monotonic()
            await pilot.press("escape")
            await until(pilot, lambda: app.state == "idle", "idle after Esc", timeout=2)
            assert time.monotonic() - pressed < 2
            shell_cards = [card for card in app.query(ToolCard) if card.call.name == "shell"]
            assert shell_cards[0].status != "running"
            await pilot.press(*"again", "enter")  # the session stays usable: the next command runs
            await until(
                pilot, lambda: app.state == "idle" and len(app.query(".finished")) == 2, "the follow-up"
            )
            await pilot.press("ctrl+q")
            await until(pilot, lambda: app.return_code is not None, "the app to exit")
        records = read_trajectory(app.session.trajectory_path)
        shells = [r for r in records if r["type"] == "observation" and r["name"] == "shell"]
        assert "stopped by the user" in shells[0]["text"] and "awake" in shells[1]["text"]

    asyncio.run(scenario())


def test_ctrl_q_kills_a_30s_command_and_quits(
    buggy_repo: Path, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for(SLEEPY, "yolo", buggy_repo)

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(120, 40)) as pilot:
            await _start_sleep(pilot, app)
            session_id = app.session_id
            pressed = time.monotonic()
            await pilot.press("ctrl+q")
            # closing removes the container and keeps the last state: well under the 30 s sleep
            await until(pilot, lambda: app.return_code is not None, "the app to exit", timeout=15)
            assert time.monotonic() - pressed < 15
        assert app.return_code == 0 and qcode_containers(session_id) == []

    asyncio.run(scenario())
