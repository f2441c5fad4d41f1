"""Commit subjects: cut at a word boundary, and a follow-up's commit named after the follow-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from qcode.agent.engines.replay import ReplayEngine
from qcode.agent.session import commit_subject

from qcode.config import load_settings
from qcode.runner import new_session
from tests.conftest import git
from tests.e2e.helpers import raw_call, write_replay

LONG = "apply_discount(200, 10) returns 190 instead of 180 because the discount is subtracted as an amount"


def test_a_long_task_is_cut_at_a_word() -> None:
    subject = commit_subject(LONG)
    assert len(subject) <= 64 and subject.endswith("…")
    assert LONG.startswith(subject[:-1]) and LONG[len(subject) - 1] == " "  # the cut is at a space
    assert commit_subject("\n\n  fix   the\tbug \nmore lines") == "fix the bug"
    assert commit_subject("   ") == "qcode"
    assert len(commit_subject("x" * 200)) == 64  # one long word: cut anyway


@pytest.mark.docker
def test_a_follow_up_commit_has_its_own_subject(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"v.txt": "one\n"})
    settings = load_settings({}, None).settings
    edit = lambda old, new: raw_call("edit_file", path="v.txt", old_text=old, new_text=new)  # noqa: E731
    replay = write_replay(
        tmp_path / "a.jsonl",
        [
            edit("one\n", "two\n"),
            raw_call("finish", summary="two"),
            edit("two\n", "three\n"),
            raw_call("finish", summary="3"),
        ],
    )
    with new_session(settings, repo, engine=ReplayEngine(replay)) as session:
        first = session.run(LONG)
        second = session.run("now make it three")
    assert (
        git(repo, "log", "-1", "--format=%s", str(first.commit)).strip() == f"qcode: {commit_subject(LONG)}"
    )
    assert git(repo, "log", "-1", "--format=%s", str(second.commit)).strip() == "qcode: now make it three"
