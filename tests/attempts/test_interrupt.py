"""Ctrl-C stops every attempt and reaps every container (other helpers' containers may exist on the
daemon: only the containers labelled with this run's session ids are counted)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from qcode.agent.sessions import list_sessions
from qcode.agent.trajectory import read_trajectory

from tests.e2e.helpers import QCODE, default_sigint, qcode_containers, raw_call, write_replay
from tests.polling import wait_until

pytestmark = pytest.mark.docker

SLOW = [raw_call("shell", command="sleep 300"), raw_call("finish", summary="slept")]


def _sleeping(state: Path, count: int) -> list[str] | None:
    ids = [meta.id for meta in list_sessions(state)]
    if len(ids) < count:
        return None
    for sid in ids:
        path = state / "sessions" / sid / "trajectory.jsonl"
        records = read_trajectory(path) if path.is_file() else []
        if not any(r["type"] == "tool_call" and "sleep 300" in str(r.get("arguments")) for r in records):
            return None
    return ids


def test_ctrl_c_stops_all_attempts_and_reaps_containers(
    make_repo, tmp_path: Path, isolated_state: Path
) -> None:
    repo = make_repo({"a.txt": "a\n"})
    replays = [write_replay(tmp_path / f"r{k}.jsonl", SLOW) for k in (1, 2)]
    proc = subprocess.Popen(
        [*QCODE, "fix", "slow task", "--repo", str(repo), "--attempts", "2", "--yes", "--engine"]
        + ["mix:" + ",".join(f"replay:{path}" for path in replays)],
        preexec_fn=default_sigint,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ids = wait_until(lambda: _sleeping(isolated_state, 2), 90, "both attempts' sleep 300 to start")
        assert all(qcode_containers(sid) for sid in ids)  # the containers really were there
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)  # well before the sleeps would end on their own
    finally:
        proc.kill()
    assert code == 130
    for sid in ids:
        assert qcode_containers(sid) == []
    assert not (isolated_state / "attempts").exists() or not any(
        (isolated_state / "attempts").glob("*/attempt-*")
    )
