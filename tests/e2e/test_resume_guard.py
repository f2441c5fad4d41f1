"""Resuming never switches repositories silently; an undo note is words, not a raw diffstat."""

from __future__ import annotations

from pathlib import Path

import pytest
from qcode.agent.engines.replay import ReplayEngine
from qcode.agent.exceptions import UserError
from qcode.agent.session import undo_note
from qcode.agent.sessions import SessionMeta, save_meta

from qcode.config import load_settings
from qcode.runner import new_session
from tests.e2e.helpers import raw_call, write_replay


@pytest.mark.docker
def test_a_session_of_another_repository_is_not_resumed_here(make_repo, tmp_path: Path) -> None:
    mine, other = make_repo({"a.txt": "a\n"}), make_repo({"b.txt": "b\n"})
    settings = load_settings({}, None).settings
    folder = settings.state_dir / "sessions" / "s-other"
    folder.mkdir(parents=True)
    save_meta(
        folder,
        SessionMeta(
            id="s-other",
            repo=str(other),
            base_commit="0" * 40,
            branch="qcode/x",
            task="t",
            created=0,
            updated=0,
        ),
    )
    engine = ReplayEngine(write_replay(tmp_path / "r.jsonl", [raw_call("finish", summary="x")]))
    with pytest.raises(UserError, match=f"belongs to {other}.*qcode tui --repo {other}"):
        new_session(settings, mine, engine=engine, resume="s-other")


def test_an_undo_note_names_the_files_and_the_place() -> None:
    stat = " a.py | 2 +-\n b.py | 1 +\n 2 files changed, 2 insertions(+), 1 deletion(-)\n"
    note = undo_note("checkpoint 1 (before step 3)", stat)
    where, changes = note.split(": ", 1)
    assert where == "back at checkpoint 1 (before step 3)"
    assert changes == "a.py, b.py (2 files changed, 2 insertions(+), 1 deletion(-))"
    assert undo_note("the starting commit", "").startswith("nothing changed")
    many = "".join(f" f{i}.py | 1 +\n" for i in range(9)) + " 9 files changed, 9 insertions(+)\n"
    assert "f3.py and 5 more" in undo_note("x", many) and "|" not in undo_note("x", many)
