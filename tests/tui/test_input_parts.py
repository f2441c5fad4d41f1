"""The pure parts behind the prompt and the picker: completion, @file attachments, the status line,
the undo note, the help table, the session list and the replayed trajectory."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from qcode.agent.events import Notice
from qcode.agent.sessions import SessionMeta
from rich.console import Console

from qcode.tui import attach, history
from qcode.tui.app import QcodeApp
from qcode.tui.attach import attach_files
from qcode.tui.completion import complete
from qcode.tui.help import help_table, key_label
from qcode.tui.history import past_events, sessions_of
from qcode.tui.prompt import PromptInput
from qcode.tui.screens import ApprovalScreen
from qcode.tui.slash import COMMANDS
from qcode.tui.view_model import fit_status, undo_words

FILES = ["src/stats.py", "src/util.py", "tests/test_stats.py", "README.md"]


def test_slash_completion_offers_matching_commands_on_the_first_word_only() -> None:
    assert complete("/", COMMANDS, FILES).candidates[:2] == ("/clear", "/cost")  # type: ignore[union-attr]
    assert complete("/c", COMMANDS, FILES).candidates == ("/clear", "/cost")  # type: ignore[union-attr]
    assert complete("/help", COMMANDS, FILES) is None  # complete already
    assert complete("/help me", COMMANDS, FILES) is None
    assert complete("see /c", COMMANDS, FILES) is None


def test_file_completion_after_an_at_sign_prefers_prefixes() -> None:
    found = complete("look at @src/", COMMANDS, FILES)
    assert found is not None and found.start == len("look at ")
    assert found.candidates == ("@src/util.py", "@src/stats.py")
    assert complete("a\nb @stats", COMMANDS, FILES).candidates[0] == "@src/stats.py"  # type: ignore[union-attr]
    assert complete("mail me@example.com", COMMANDS, FILES) is None  # not after a space
    assert complete("@src/stats.py", COMMANDS, FILES) is None


def test_attach_files_adds_each_named_file_once(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "stats.py").write_text("def mean(v):\n    return 0\n")
    result = attach_files("why does @src/stats.py fail? see @src/stats.py, @nope.py\n    @property", tmp_path)
    assert result.files == ["src/stats.py"]
    assert result.message.count('<file path="src/stats.py">\ndef mean(v):\n    return 0\n\n</file>') == 1
    assert result.message.startswith("why does @src/stats.py fail?")
    assert result.notes == ["@nope.py: not attached: 'nope.py' does not exist in the workspace."]


def test_attach_refuses_what_escapes_the_workspace_and_binary_files(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=hunter2\n")
    os.symlink(secret, root / "innocent.txt")  # a hostile repository's link out
    (root / "blob.bin").write_bytes(b"\x00\x01\x02")
    result = attach_files("@innocent.txt @../secret.txt @/etc/passwd @blob.bin", root)
    assert result.files == [] and "hunter2" not in result.message and "root:" not in result.message
    assert [note.split(":")[0] for note in result.notes] == [
        "@innocent.txt",
        "@../secret.txt",
        "@/etc/passwd",
        "@blob.bin",
    ]
    assert "binary" in result.notes[-1]


def test_attachments_are_capped_per_file_and_per_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attach, "FILE_CAP", 100)
    monkeypatch.setattr(attach, "TOTAL_CAP", 150)
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text("x" * 1000)
    result = attach_files("@a.txt @b.txt @c.txt", tmp_path)
    assert result.files == ["a.txt", "b.txt"]  # 100 + 50 bytes, then the budget is spent
    assert len(result.message) < 400
    assert result.notes[0] == "@a.txt: attached its first 100 bytes only"
    assert result.notes[-1].startswith("@c.txt: not attached")


def test_the_status_line_drops_stats_before_it_cuts_the_model_name() -> None:
    stats = "step 5 · ↑30.0k ↓300 · 60% cached · 40 tok/s"
    head = " idle · 00:00 "
    assert fit_status(head, stats, "Qwen3.6-27B-FP8-Instruct", 120) == stats
    kept = fit_status(head, stats, "Qwen3.6-27B-FP8-Instruct", 80)
    assert kept == "step 5 · ↑30.0k ↓300 · 60% cached"
    assert len(f"{head}· {kept} · Qwen3.6-27B-FP8-Instruct") <= 80
    assert fit_status(head, stats, "Qwen3.6-27B-FP8-Instruct", 30) == ""


def test_the_undo_note_is_words_not_a_diffstat() -> None:
    stat = " src/stats.py | 2 +-\n tests/t.py   | 4 ++--\n 2 files changed, 3 insertions(+), 3 deletions(-)\n"
    note = undo_words(2, 3, stat)
    assert note.startswith("Undone: src/stats.py, tests/t.py are back as at checkpoint 2 (before step 3).")
    assert "|" not in note and "insertions" not in note
    assert (
        undo_words(0, 0, "") == "Nothing to undo: the workspace already matches the session's starting point."
    )


def test_help_lists_every_key_of_the_app_the_editor_and_the_approval_prompt() -> None:
    console = Console(width=200, record=True)
    console.print(help_table())
    shown = console.export_text()
    bindings = [*QcodeApp.BINDINGS, *PromptInput.BINDINGS, *ApprovalScreen.BINDINGS]
    for binding in bindings:
        for key in binding.key.split(","):  # type: ignore[union-attr]
            assert key_label(key) in shown, key
    for key in PromptInput.NEWLINE_KEYS:
        assert key_label(key) in shown, key
    for name in COMMANDS:
        assert f"/{name}" in shown
    assert "Enter" in shown and "↑, ↓" in shown and "?" in shown


def _meta(folder: Path, session_id: str, repo: Path, status: str, updated: float, **extra: object) -> None:
    (folder / session_id).mkdir(parents=True)
    meta = SessionMeta(
        id=session_id, repo=str(repo), base_commit="0", branch="b", task="fix   it\nnow", created=0, updated=0
    ).model_dump()
    (folder / session_id / "session.json").write_text(
        json.dumps({**meta, "status": status, "updated": updated, **extra})
    )


def test_the_session_list_holds_this_repository_only_and_stale_runs_read_interrupted(tmp_path: Path) -> None:
    from qcode.sandbox.reaper import owner_label

    mine, other = tmp_path / "mine", tmp_path / "other"
    sessions = tmp_path / "state" / "sessions"
    live_id = f"live-{os.getpid()}-{tmp_path.name}"
    _meta(sessions, "s1", mine, "resolved", 1.0)
    _meta(sessions, "s2", mine, "running", 2.0, owner=owner_label(2**22 + 1))  # its process is gone
    _meta(sessions, live_id, mine, "running", 2.5, owner=owner_label())  # this live process runs it
    _meta(sessions, "s3", other, "resolved", 3.0)
    _meta(sessions, "s4", other, "running", 4.0)
    found = sessions_of(tmp_path / "state", mine)
    assert [(row.id, row.status) for row in found.rows] == [
        (live_id, "running"),
        ("s2", "interrupted"),
        ("s1", "resolved"),
    ]
    assert found.hidden == 2
    assert found.rows[1].label() == "s2  interrupted · fix it now"


def test_a_resumed_trajectory_is_read_from_its_tail_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "trajectory.jsonl"
    lines = [Notice(text=f"note {i}").model_dump_json() for i in range(300)]
    path.write_text("\n".join(lines) + "\n{damaged\n" + '{"type": "unknown"}\n')
    events, cut = past_events(path, cap=len(lines[0]) * 10)
    assert cut and 8 <= len(events) <= 10
    assert events[-1] == Notice.model_validate_json(lines[-1])
    events, cut = past_events(path)
    assert not cut and len(events) == 300  # the damaged and unknown lines are skipped
    monkeypatch.setattr(history, "REPLAY_EVENTS", 100)
    events, cut = past_events(path)
    assert cut and len(events) == 100 and events[-1] == Notice.model_validate_json(lines[-1])


def test_a_past_task_with_markup_is_listed_as_text() -> None:
    from textual.app import App
    from textual.widgets import OptionList

    from qcode.tui.history import SessionRow
    from qcode.tui.screens import SessionsScreen

    rows = [SessionRow("s1", "resolved", "fix arr[/x] parsing [@click=app.quit]x[/] \x1b]52;c;Zm9v\x07")]

    async def scenario() -> str:
        app: App[None] = App()
        async with app.run_test() as pilot:
            await app.push_screen(SessionsScreen(rows))
            await pilot.pause()
            option = app.screen.query_one(OptionList).get_option_at_index(0)
            return str(option.prompt)

    shown = asyncio.run(scenario())
    assert "fix arr[/x] parsing [@click=app.quit]x[/]" in shown and "\x1b" not in shown
