"""`qcode sandbox doctor` and `qcode fix` when Docker is not where DOCKER_HOST says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import raw_call, run_qcode, write_replay


@pytest.mark.slow
def test_a_stale_docker_host_is_named_and_the_rest_is_skipped(tmp_path: Path) -> None:
    done = run_qcode("sandbox", "doctor", env={"DOCKER_HOST": f"unix://{tmp_path}/gone.sock"})
    assert done.returncode == 2
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("FAIL docker socket") and "unset DOCKER_HOST" in lines[0]
    assert "install Docker" not in done.stdout
    assert [line.split(":")[0] for line in lines[1:4]] == [
        "skip docker daemon",
        "skip sandbox image",
        "skip sandbox runs",
    ]
    assert lines[-1].startswith("3 check(s) skipped")


@pytest.mark.docker
def test_a_healthy_setup_passes_every_check() -> None:
    done = run_qcode("sandbox", "doctor")
    assert done.returncode == 0, done.stdout
    assert [line.split(" ")[0] for line in done.stdout.strip().splitlines()] == ["ok"] * 4


@pytest.mark.slow
def test_fix_says_to_unset_docker_host_in_one_line(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    replay = write_replay(tmp_path / "r.jsonl", [raw_call("finish", summary="x")])
    env = {"DOCKER_HOST": f"unix://{tmp_path}/gone.sock"}
    done = run_qcode("fix", "x", "--repo", str(repo), "--engine", f"replay:{replay}", env=env)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "unset DOCKER_HOST" in line
    assert "Error" not in line and "Connection" not in line  # no raw SDK exception text
