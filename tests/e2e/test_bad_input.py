"""Bad input: one clear line naming the fix, exit 2, nothing left behind, the checkout untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.e2e.helpers import raw_call, run_qcode, write_replay


def _assert_clean_failure(done, isolated_state: Path, pattern: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and pattern in lines[0], done.stderr
    assert not (isolated_state / "sessions").exists() or not any((isolated_state / "sessions").iterdir())


@pytest.mark.slow
def test_no_docker_daemon(make_repo, tmp_path: Path, isolated_state: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    replay = write_replay(tmp_path / "r.jsonl", [raw_call("finish", summary="x")])
    done = run_qcode(
        "fix",
        "x",
        "--repo",
        str(repo),
        "--engine",
        f"replay:{replay}",
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"},
    )
    _assert_clean_failure(done, isolated_state, "Docker")
    assert git(repo, "branch", "--list", "qcode/*").strip() == ""


@pytest.mark.docker
def test_not_a_repository(tmp_path: Path, isolated_state: Path) -> None:
    replay = write_replay(tmp_path / "r.jsonl", [raw_call("finish", summary="x")])
    (tmp_path / "plain").mkdir()
    done = run_qcode("fix", "x", "--repo", str(tmp_path / "plain"), "--engine", f"replay:{replay}")
    _assert_clean_failure(done, isolated_state, "not a git repository")


@pytest.mark.docker
def test_malformed_replay_names_the_line(make_repo, tmp_path: Path, isolated_state: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(raw_call("finish", summary="x")) + "\n{not json\n")
    done = run_qcode("fix", "x", "--repo", str(repo), "--engine", f"replay:{bad}")
    _assert_clean_failure(done, isolated_state, f"{bad}:2")
    bad.write_text('{"raw": "x", "content": "y"}\n')
    done = run_qcode("fix", "x", "--repo", str(repo), "--engine", f"replay:{bad}")
    _assert_clean_failure(done, isolated_state, f"{bad}:1")
    bad.write_text('{"raw": "x"}\n{"tool_calls": [{"name": "shell", "args": {}}]}\n')
    done = run_qcode("fix", "x", "--repo", str(repo), "--engine", f"replay:{bad}")
    _assert_clean_failure(done, isolated_state, f"{bad}:2")


@pytest.mark.docker
def test_empty_and_detached_repositories(make_repo, tmp_path: Path, isolated_state: Path) -> None:
    replay = write_replay(tmp_path / "r.jsonl", [raw_call("finish", summary="x")])
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    done = run_qcode("fix", "x", "--repo", str(empty), "--engine", f"replay:{replay}")
    _assert_clean_failure(done, isolated_state, "no commits")
    repo = make_repo({"a.py": "x = 1\n"})
    git(repo, "checkout", "-q", "--detach")
    done = run_qcode("fix", "x", "--repo", str(repo), "--engine", f"replay:{replay}")
    _assert_clean_failure(done, isolated_state, "detached HEAD")


@pytest.mark.slow
def test_unknown_engine(make_repo, isolated_state: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    done = run_qcode("fix", "x", "--repo", str(repo), "--engine", "gpt5", env={"DOCKER_HOST": "unix:///nope"})
    assert done.returncode == 2 and "qcode:" in done.stderr
