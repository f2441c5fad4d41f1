"""`qcode undo`: the list shows whole ids and speaks JSON, a clear error outside a repository, and a
no-op undo says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.helpers import raw_call, run_qcode, write_replay

pytestmark = pytest.mark.docker


def test_undo_list_json_outside_a_repo_and_a_no_op(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"v.txt": "one\n"})
    turns = [
        raw_call("edit_file", path="v.txt", old_text="one\n", new_text="two\n"),
        raw_call("finish", summary="two"),
    ]
    replay = write_replay(tmp_path / "r.jsonl", turns)
    fixed = json.loads(
        run_qcode("fix", "x", "--repo", str(repo), "--engine", f"replay:{replay}", "--json").stdout
    )
    session_id = fixed["session_id"]

    listed = run_qcode("undo", "--list", "--repo", str(repo), env={"COLUMNS": "50"})
    assert listed.returncode == 0 and session_id in listed.stdout, listed.stdout  # whole, even at 50 columns
    as_json = run_qcode("undo", "--list", "--json", "--repo", str(repo))
    (entry,) = json.loads(as_json.stdout)
    assert entry["id"] == session_id and entry["branch"] == fixed["branch"] and entry["status"] == "resolved"

    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    outside = run_qcode("undo", "--list", "--repo", str(plain))
    assert outside.returncode == 2 and outside.stdout == ""
    assert "not a git repository" in outside.stderr and len(outside.stderr.strip().splitlines()) == 1

    first = json.loads(run_qcode("undo", "--repo", str(repo), "--steps", "5", "--json").stdout)
    assert first["changed"] is True and first["commit"] and "v.txt" in first["diffstat"]
    again = run_qcode("undo", "--repo", str(repo), "--steps", "5", "--json")
    second = json.loads(again.stdout)
    assert again.returncode == 0 and second["changed"] is False
    assert "commit" not in second and "diffstat" not in second
    assert second["message"].startswith("nothing to undo")
    said = run_qcode("undo", "--repo", str(repo), "--steps", "5")
    assert "nothing to undo" in said.stderr
