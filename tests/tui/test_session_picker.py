"""Ctrl+O lists the sessions of the repository the app works on, not every session on the machine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from qcode.agent.sessions import SessionMeta, save_meta
from textual.widgets import OptionList

from qcode.config import Settings
from qcode.tui.app import QcodeApp
from tests.e2e.helpers import raw_call
from tests.tui.conftest import until

pytestmark = pytest.mark.docker


def test_ctrl_o_lists_only_this_repositorys_sessions(
    buggy_repo: Path, make_repo, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for([raw_call("finish", summary="x")], "yolo", buggy_repo)
    other = make_repo({"b.txt": "b\n"})
    for session_id, repo in (("s-here", buggy_repo), ("s-elsewhere", other)):
        folder = settings.state_dir / "sessions" / session_id
        folder.mkdir(parents=True)
        meta = SessionMeta(
            id=session_id, repo=str(repo), base_commit="0" * 40, branch="b", task="t", created=0, updated=0
        )
        save_meta(folder, meta)

    async def scenario() -> list[str]:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.state == "idle", "the session to be ready")
            await pilot.press("ctrl+o")
            await until(pilot, lambda: type(app.screen).__name__ == "SessionsScreen", "the session list")
            options = app.screen.query_one(OptionList)
            shown = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            await pilot.press("escape")
            await pilot.press("ctrl+q")
            await until(pilot, lambda: app.return_code is not None, "the app to exit")
        return shown

    shown = asyncio.run(scenario())
    assert len(shown) == 1 and "s-here" in shown[0]
