"""The session list: one repository's sessions, and a killed `qcode fix` shown as `interrupted`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest
from qcode.agent.sessions import SessionMeta, list_sessions, save_meta
from qcode.agent.trajectory import read_trajectory
from qcode.sandbox.quota import reap_stale_mounts

from tests.e2e.helpers import default_sigint, qcode_containers, raw_call, write_replay
from tests.polling import wait_until

SLOW = [
    raw_call("shell", command="sleep 1"),
    raw_call("shell", command="sleep 30"),
    raw_call("finish", summary="x"),
]


def _meta(
    state: Path, session_id: str, repo: Path, status: str = "resolved", owner: str | None = None
) -> None:
    folder = state / "sessions" / session_id
    folder.mkdir(parents=True)
    meta = SessionMeta(
        id=session_id, repo=str(repo), base_commit="0" * 40, branch="qcode/x", task="t", created=0, updated=0
    )
    meta.status, meta.owner = status, owner
    save_meta(folder, meta)


def test_the_list_holds_only_the_current_repository(make_repo, isolated_state: Path) -> None:
    mine, other = make_repo({"a.txt": "a\n"}), make_repo({"b.txt": "b\n"})
    (mine / "sub").mkdir()
    _meta(isolated_state, "s-mine", mine)
    _meta(isolated_state, "s-other", other)
    _meta(isolated_state, "s-demo", Path("/tmp/qcode-demo-gone"))
    assert [m.id for m in list_sessions(isolated_state, repo=mine)] == ["s-mine"]
    assert [m.id for m in list_sessions(isolated_state, repo=mine / "sub")] == ["s-mine"]  # from a subfolder
    assert {m.id for m in list_sessions(isolated_state)} == {"s-mine", "s-other", "s-demo"}
    assert len(list_sessions(isolated_state, limit=2)) == 2


def test_running_without_a_live_process_is_interrupted(make_repo, isolated_state: Path) -> None:
    repo = make_repo({"a.txt": "a\n"})
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no live process started at that time
    from qcode.sandbox.reaper import owner_label

    _meta(isolated_state, "s-dead", repo, "running", f"{owner_label().rsplit(':', 2)[0]}:{gone.pid}:1")
    _meta(isolated_state, "s-old", repo, "running", None)  # written before owners were recorded
    _meta(isolated_state, "s-live", repo, "running", owner_label())
    status = {m.id: m.status for m in list_sessions(isolated_state, repo=repo)}
    assert status == {"s-dead": "interrupted", "s-old": "interrupted", "s-live": "running"}


def _start_fix(repo: Path, replay: Path, **popen: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qcode",
            "fix",
            "slow task",
            "--repo",
            str(repo),
            "--engine",
            f"replay:{replay}",
            "--yes",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        preexec_fn=default_sigint,
        **popen,  # type: ignore[arg-type]
    )


def _sleeping(state: Path) -> SessionMeta | None:
    """The session once its `sleep 30` is running (its second tool call is in the trajectory)."""
    found = list_sessions(state)
    if not found:
        return None
    path = state / "sessions" / found[0].id / "trajectory.jsonl"
    records = read_trajectory(path) if path.is_file() else []
    calls = [r for r in records if r["type"] == "tool_call" and "sleep 30" in str(r.get("arguments"))]
    return found[0] if calls else None


@pytest.mark.docker
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigkill"])
def test_a_killed_fix_is_interrupted(how: str, make_repo, tmp_path: Path, isolated_state: Path) -> None:
    repo = make_repo({"a.txt": "a\n"})
    proc = _start_fix(repo, write_replay(tmp_path / "r.jsonl", SLOW), stderr=subprocess.DEVNULL)
    try:
        meta = wait_until(lambda: _sleeping(isolated_state), 60, "the sleep 30 to start")
        assert meta.status == "running"
        proc.send_signal({"ctrl-c": signal.SIGINT, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}[how])
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    if how == "sigkill":  # nothing ran on the way out: what the next qcode start reaps, done here
        reap_stale_mounts(isolated_state)
        for name in qcode_containers(meta.id):
            docker.from_env().containers.get(name).remove(force=True)
    assert code == (-9 if how == "sigkill" else 130)
    (listed,) = list_sessions(isolated_state, repo=repo)
    assert listed.status == "interrupted"
    if how != "sigkill":  # recorded on the way out, not only inferred from the dead process
        on_disk = SessionMeta.model_validate_json(
            (isolated_state / "sessions" / listed.id / "session.json").read_text()
        )
        assert on_disk.status == "interrupted"


@pytest.mark.docker
def test_a_fix_whose_reader_went_away_is_interrupted(make_repo, tmp_path: Path, isolated_state: Path) -> None:
    repo = make_repo({"a.txt": "a\n"})
    replay = write_replay(tmp_path / "r.jsonl", [raw_call("shell", command="sleep 3"), *SLOW])
    proc = _start_fix(repo, replay, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        wait_until(lambda: list_sessions(isolated_state) or None, 60, "the session to start")
        proc.stderr.close()  # the progress view's reader is gone: its next line is a broken pipe
        code = proc.wait(timeout=90)
    finally:
        proc.kill()
    assert code in (1, 141)  # rich exits 1 on a broken pipe of its own; qcode's main 141
    (listed,) = list_sessions(isolated_state, repo=repo)
    assert listed.status == "interrupted"


def test_undo_refuses_a_session_that_is_still_running(make_repo, isolated_state: Path) -> None:
    from qcode.agent.exceptions import UserError
    from qcode.agent.undo import undo_session
    from qcode.sandbox.reaper import owner_label

    repo = make_repo({"a.txt": "a\n"})
    _meta(isolated_state, "s-live", repo, "running", owner_label())  # e.g. open in a TUI right now
    workspace = isolated_state / "sessions" / "s-live" / "workspace"
    workspace.mkdir()
    (workspace / "work.txt").write_text("in progress\n")
    with pytest.raises(UserError, match="still running"):
        undo_session(isolated_state, "s-live")
    assert (workspace / "work.txt").read_text() == "in progress\n"  # its workspace was not touched
