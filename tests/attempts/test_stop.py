"""Stopping attempts early: `--attempts-stop first-verified` and the total wall-time cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attempts.test_fix_attempts import BUGGY, ISSUE, TESTS, good
from tests.e2e.helpers import qcode_containers, raw_call, run_qcode, write_replay

pytestmark = pytest.mark.docker

SLOW = [raw_call("shell", command="sleep 300"), raw_call("finish", summary="slept")]


def _fix(repo: Path, replays: list[Path], *args: str, env: dict[str, str] | None = None) -> dict:
    done = run_qcode(
        "fix", ISSUE, "--repo", str(repo), "--attempts", str(len(replays)), "--json",
        "--engine", "mix:" + ",".join(f"replay:{path}" for path in replays), *args,
        env=env, timeout=150,  # far below the slow attempt's 300 s: only a stop ends it in time
    )  # fmt: skip
    assert done.stdout, done.stderr
    out = json.loads(done.stdout)
    for record in out["attempts"]:
        assert qcode_containers(record["session_id"]) == []
    return out


def test_first_verified_stops_the_others(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"stats.py": BUGGY, "test_stats.py": TESTS})
    replays = [write_replay(tmp_path / "good.jsonl", good()), write_replay(tmp_path / "slow.jsonl", SLOW)]
    out = _fix(repo, replays, "--attempts-stop", "first-verified")
    assert out["chosen"] == 1 and out["status"] == "resolved"
    assert out["stopped"].startswith("attempt 1 passed")
    slow = out["attempts"][1]
    assert slow["status"] == "stopped" and slow["verdict"] == f"stopped early: {out['stopped']}"


def test_wall_time_cap_stops_every_attempt(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"stats.py": BUGGY, "test_stats.py": TESTS})
    replays = [write_replay(tmp_path / f"slow{k}.jsonl", SLOW) for k in (1, 2)]
    out = _fix(repo, replays, env={"QCODE_ATTEMPTS_WALL_SECONDS": "3"})
    assert out["chosen"] is None and "wall-time cap (3s)" in out["stopped"]
    assert [a["status"] for a in out["attempts"]] == ["stopped", "stopped"]
