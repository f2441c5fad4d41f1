"""The app driven with Pilot against the replay engine, real Docker and real git."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from qcode.agent.sessions import SessionMeta
from qcode.agent.trajectory import read_trajectory
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from qcode.config import Settings
from qcode.tui.app import QcodeApp
from qcode.tui.screens import ApprovalScreen, DiffScreen, SessionsScreen
from qcode.tui.widgets import PlanPanel, StatusBar, ToolCard
from tests.conftest import git
from tests.e2e.helpers import qcode_containers, raw_call
from tests.tui.conftest import FIXED_LINE, fix_turns, plan, until

pytestmark = pytest.mark.docker


def notes(app: QcodeApp) -> list[str]:
    return [str(widget.render()) for widget in app.query(".note").results(Static)]


def users(app: QcodeApp) -> list[str]:
    return [str(widget.render()) for widget in app.query(".user").results(Static)]


def fake_session(state: Path, session_id: str, repo: Path, status: str, updated: float) -> str:
    """A past session's record as qcode writes it (a killed run stays `running`)."""
    folder = state / "sessions" / session_id
    folder.mkdir(parents=True)
    meta = SessionMeta(
        id=session_id, repo=str(repo), base_commit="0" * 40, branch="b", task="t", created=1.0, updated=1.0
    )
    meta.status = status
    (folder / "session.json").write_text(
        meta.model_dump_json().replace('"updated":1.0', f'"updated":{updated}')
    )
    return session_id


def finished_texts(app: QcodeApp) -> list[str]:
    return [str(widget.render()) for widget in app.query(".finished").results(Static)]


def cards(app: QcodeApp) -> list[tuple[str, str]]:
    return [(card.call.name, card.status) for card in app.query(ToolCard)]


def trajectory(app: QcodeApp) -> list[dict]:
    assert app.session is not None
    return read_trajectory(app.session.trajectory_path)


async def submit(pilot, app: QcodeApp, text: str) -> None:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: app.state == "idle", "the session to be ready")
    assert app.focused is app.prompt
    await pilot.press(*text, "enter")


async def quit_app(pilot, app: QcodeApp) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+q")
    await until(pilot, lambda: app.return_code is not None, "the app to exit")


def test_task_then_follow_up_in_yolo_mode(buggy_repo: Path, settings_for: Callable[..., Settings]) -> None:
    follow_up = [
        raw_call("write_file", path="NOTES.md", content="mean fixed\n"),
        raw_call("finish", summary="added notes"),
    ]
    settings = settings_for(fix_turns() + follow_up, "yolo", buggy_repo)

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(120, 40)) as pilot:
            await submit(pilot, app, "fix mean")
            await until(pilot, lambda: len(finished_texts(app)) == 1, "the first run to finish")
            plan_panel = app.query_one(PlanPanel)
            assert [s.status for s in plan_panel.plan] == ["done", "done"]
            assert plan_panel.border_title == "plan 2/2"
            assert cards(app) == [
                ("update_plan", "ok"),
                ("shell", "failed"),
                ("edit_file", "ok"),
                ("update_plan", "ok"),
                ("finish", "ok"),
            ]
            edit_card = app.query(ToolCard)[2]
            assert not edit_card.collapsed  # edits open as a diff
            branch = app.session.branch
            assert f"branch {branch}" in finished_texts(app)[0]
            assert finished_texts(app)[0].startswith("resolved: finished")
            first = git(buggy_repo, "rev-parse", branch).strip()
            assert FIXED_LINE in git(buggy_repo, "show", f"{branch}:stats.py")

            await pilot.press("ctrl+r")  # review the diff between runs
            await until(pilot, lambda: isinstance(app.screen, DiffScreen), "the diff screen")
            assert "-    return sum(values) / (len(values) + 1)" in app.screen.diff
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, DiffScreen), "the diff screen to close")

            session_id = app.session_id
            await submit(pilot, app, "also add notes")
            await until(pilot, lambda: len(finished_texts(app)) == 2, "the follow-up to finish")
            assert app.session_id == session_id  # same session, same branch, one more commit
            assert git(buggy_repo, "rev-parse", f"{branch}^").strip() == first
            assert git(buggy_repo, "show", f"{branch}:NOTES.md") == "mean fixed\n"
            await quit_app(pilot, app)
        assert app.return_code == 0
        assert qcode_containers(session_id) == []
        assert [r["status"] for r in trajectory(app) if r["type"] == "finished"] == ["resolved", "resolved"]

    asyncio.run(scenario())


def test_ask_mode_accept_reject_and_always(buggy_repo: Path, settings_for: Callable[..., Settings]) -> None:
    turns = [
        plan(("Try things", "in_progress")),
        raw_call("shell", command="touch rejected.txt"),
        raw_call("shell", command="touch twice.txt"),
        raw_call("shell", command="touch twice.txt"),
        raw_call("shell", command="ls -la"),  # safe: never asks
        raw_call(
            "edit_file",
            path="stats.py",
            old_text="    return sum(values) / (len(values) + 1)\n",
            new_text=FIXED_LINE,
        ),
        raw_call("finish", summary="done"),
    ]
    settings = settings_for(turns, "ask", buggy_repo)
    prompts: list[str] = []

    async def answer(pilot, app: QcodeApp, key: str) -> None:  # type: ignore[no-untyped-def]
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), f"an approval prompt for {key!r}")
        screen = app.screen
        args = screen.call.arguments
        prompts.append(f"{screen.call.name}:{args.get('command', args.get('path'))}")
        assert app.state == "asking" and app.query(ToolCard).last().status == "asking"
        # The prompt's own footer: its four keys, not the app's (which do not apply while it waits).
        shown = ["y", "n", "a", "escape"]
        await until(pilot, lambda: [k.key for k in screen.query(FooterKey)] == shown, "the prompt's footer")
        await pilot.press(key)
        await until(pilot, lambda: app.screen is not screen, "the prompt to close")

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(80, 24)) as pilot:
            await submit(pilot, app, "experiment")
            await answer(pilot, app, "n")  # reject touch rejected.txt
            await answer(pilot, app, "a")  # always for touch twice.txt (the second one does not ask)
            await answer(pilot, app, "y")  # the edit
            await until(pilot, lambda: len(finished_texts(app)) == 1, "the run to finish")
            assert [status for _, status in cards(app)[1:5]] == ["rejected", "ok", "ok", "ok"]
            status = app.query_one(StatusBar)  # 80 columns: the stats give way, the model name stays whole
            line = status.render().plain
            assert line.endswith("· replay:turns.jsonl") and len(line) <= 80 and "step" in line
            await quit_app(pilot, app)
        assert prompts == ["shell:touch rejected.txt", "shell:touch twice.txt", "edit_file:stats.py"]
        observations = [r for r in trajectory(app) if r["type"] == "observation"]
        assert observations[1]["ok"] is False and "The user rejected this call" in observations[1]["text"]
        branch = app.session.branch
        tree = git(buggy_repo, "ls-tree", "--name-only", branch).split()
        assert "twice.txt" in tree and "rejected.txt" not in tree

    asyncio.run(scenario())


def test_escape_interrupts_and_the_session_stays_usable(
    buggy_repo: Path, settings_for: Callable[..., Settings]
) -> None:
    turns = [
        plan(("Clean up", "in_progress")),
        raw_call("shell", command="rm -f test_stats.py"),
        # the follow-up run after the interrupt:
        raw_call(
            "edit_file",
            path="stats.py",
            old_text="    return sum(values) / (len(values) + 1)\n",
            new_text=FIXED_LINE,
        ),
        raw_call("finish", summary="fixed instead"),
    ]
    settings = settings_for(turns, "auto-edit", buggy_repo)

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(80, 24)) as pilot:
            await submit(pilot, app, "clean up")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the rm prompt")
            await pilot.press("escape")
            await until(pilot, lambda: len(finished_texts(app)) == 1, "the interrupted run to end")
            assert finished_texts(app)[0].startswith("unresolved: interrupted by the user")
            assert not isinstance(app.screen, ApprovalScreen) and app.state == "idle"
            assert cards(app)[1] == ("shell", "rejected")
            await submit(pilot, app, "fix mean instead")  # auto-edit: the edit does not ask
            await until(pilot, lambda: len(finished_texts(app)) == 2, "the follow-up to finish")
            assert finished_texts(app)[1].startswith("resolved: finished")
            await quit_app(pilot, app)
        assert (buggy_repo / "test_stats.py").exists()
        assert "test_stats.py" in git(buggy_repo, "ls-tree", "--name-only", app.session.branch).split()

    asyncio.run(scenario())


def test_quit_while_a_prompt_waits(buggy_repo: Path, settings_for: Callable[..., Settings]) -> None:
    turns = [raw_call("shell", command="make deploy"), raw_call("finish", summary="x")]
    settings = settings_for(turns, "ask", buggy_repo)

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(80, 24)) as pilot:
            await submit(pilot, app, "deploy")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the prompt")
            session_id = app.session_id
            assert session_id and qcode_containers(session_id) != []
            await quit_app(pilot, app)
        assert app.return_code == 0
        assert qcode_containers(session_id) == []
        records = trajectory(app)
        assert records[-1]["type"] == "finished" and records[-1]["reason"] == "interrupted by the user"

    asyncio.run(scenario())


def test_undo_between_runs_then_resume_in_a_new_app(
    buggy_repo: Path, settings_for: Callable[..., Settings], make_repo: Callable[[dict[str, str]], Path]
) -> None:
    settings = settings_for(fix_turns(), "yolo", buggy_repo)

    async def first_app() -> str:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(120, 40)) as pilot:
            await submit(pilot, app, "fix mean")
            await until(
                pilot, lambda: len(finished_texts(app)) == 1 and app.state == "idle", "the run to end"
            )
            await pilot.press("ctrl+z")
            await until(
                pilot,
                lambda: (app.session.workspace.path / "stats.py").read_text().endswith("(len(values) + 1)\n"),
                "the undo to restore the file",
            )
            await until(pilot, lambda: any("Undone" in n for n in notes(app)), "the undo note")
            (note,) = [n for n in notes(app) if "Undone" in n]
            assert note.startswith("Undone: stats.py is back as at checkpoint")
            assert "|" not in note and "insertion" not in note  # words, not a raw diffstat
            await pilot.press("ctrl+r")  # the branch still holds the fix: the review shows it
            await until(pilot, lambda: isinstance(app.screen, DiffScreen), "the diff screen")
            diff = app.screen.diff
            committed, _, pending = diff.partition("# since the last commit")
            assert f"# committed on {app.session.branch}" in committed and f"+{FIXED_LINE}" in committed
            assert f"-{FIXED_LINE}" in pending  # the undo, not committed yet
            await pilot.press("escape")
            session_id = app.session_id
            await quit_app(pilot, app)
        return session_id

    async def second_app(session_id: str) -> None:
        resumed = settings_for(
            [raw_call("read_file", path="stats.py"), raw_call("finish", summary="checked")],
            "yolo",
            buggy_repo,
        )
        app = QcodeApp(resumed, buggy_repo)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.state == "idle", "the session to be ready")
            await pilot.press("ctrl+o")
            await until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the session list")
            listed = [row.id for row in app.screen.rows]
            assert listed == [session_id, stale]  # newest first; the other repository's is not listed
            assert [row.status for row in app.screen.rows] == ["resolved", "interrupted"]
            assert app.screen.query_one("#sessions").border_subtitle == (
                "1 session of other repositories not listed"
            )
            await pilot.press("enter")
            await until(pilot, lambda: app.session_id == session_id and app.state == "idle", "the resume")
            # The old conversation is back on screen: the task, its cards, how it ended.
            await until(pilot, lambda: len(finished_texts(app)) == 1, "the past conversation")
            assert users(app)[0] == "› fix mean"
            assert ("edit_file", "ok") in cards(app) and finished_texts(app)[0].startswith("resolved")
            assert app.query_one(PlanPanel).border_title == "plan 2/2"
            await submit(pilot, app, "check it")
            await until(pilot, lambda: len(finished_texts(app)) == 2, "the resumed run to finish")
            assert users(app) == ["› fix mean", "› check it"]
            await quit_app(pilot, app)
        assert app.return_code == 0

    session_id = asyncio.run(first_app())
    state = Path(settings.state_dir)
    other = make_repo({"a.py": "x = 1\n"})
    stale = fake_session(state, "20000101-000000-000001", buggy_repo, "running", updated=2.0)
    fake_session(state, "20000101-000000-000002", other, "resolved", updated=3.0)
    asyncio.run(second_app(session_id))
    records = read_trajectory(Path(settings.state_dir) / "sessions" / session_id / "trajectory.jsonl")
    assert [r["type"] for r in records].count("session_started") == 2
    assert any(r["type"] == "rolled_back" for r in records)
    # The resumed workspace is the undone state, not the branch's commit.
    reads = [r for r in records if r["type"] == "observation" and r["name"] == "read_file"]
    assert "(len(values) + 1)" in reads[-1]["text"]
