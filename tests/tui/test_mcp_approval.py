"""MCP tools in the TUI (replay engine, a real MCP server over stdio, real Docker): they run on the
host, so they ask like an unsafe shell command unless their server marks them read-only."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory

from qcode.config import Settings
from qcode.tui.app import QcodeApp
from qcode.tui.screens import ApprovalScreen
from tests.e2e.helpers import raw_call
from tests.mcp.conftest import SERVER
from tests.tui.conftest import until
from tests.tui.test_app import finished_texts, quit_app, submit

pytestmark = pytest.mark.docker


def test_a_writing_mcp_tool_asks_and_a_read_only_one_does_not(
    buggy_repo: Path, settings_for: Callable[..., Settings], isolated_state: Path
) -> None:
    config = isolated_state.parent / "user-config.toml"
    config.write_text(
        f"[mcp.servers.wiki]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = {json.dumps([str(SERVER), 'stdio'])}\n"
    )
    turns = [
        raw_call("mcp__wiki__lookup", key="owner"),  # read-only: runs without asking
        raw_call("mcp__wiki__add", a=2, b=3),  # not read-only: asks, and is rejected
        raw_call("finish", summary="asked"),
    ]
    settings = settings_for(turns, "auto-edit", buggy_repo)
    asked: list[str] = []

    async def scenario() -> QcodeApp:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(100, 30)) as pilot:
            await submit(pilot, app, "use the wiki")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the prompt for add", 60)
            asked.append(app.screen.call.name)
            await pilot.press("n")
            await until(pilot, lambda: len(finished_texts(app)) == 1, "the run to finish", 60)
            await quit_app(pilot, app)
        return app

    app = asyncio.run(scenario())
    assert asked == ["mcp__wiki__add"]
    assert app.session is not None
    observations = [r for r in read_trajectory(app.session.trajectory_path) if r["type"] == "observation"]
    by_name = {r["name"]: r for r in observations}
    assert (
        by_name["mcp__wiki__lookup"]["ok"] and "wiki says owner = 42" in by_name["mcp__wiki__lookup"]["text"]
    )
    assert not by_name["mcp__wiki__add"]["ok"] and "rejected" in by_name["mcp__wiki__add"]["text"]
