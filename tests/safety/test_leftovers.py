"""Attack 7: qcode killed with SIGKILL mid-run leaves nothing harmful: its container is reaped by the
next qcode start, and the user's repository (HEAD, branches, worktree files, object store) is intact."""

from __future__ import annotations

import signal
from pathlib import Path

import docker
import pytest

from tests.conftest import git
from tests.safety.helpers import finish, raw_call, run_fix, session_workspace, sh, start_fix, wait_until
from tests.safety.repos import make_repo, repo_state

pytestmark = pytest.mark.docker


def _containers_of(client: docker.DockerClient, pid: int) -> list[str]:
    found = client.containers.list(all=True, filters={"label": "qcode=1"})
    return [c.id for c in found if c.labels.get("qcode.owner", "").split(":")[1:2] == [str(pid)]]


@pytest.mark.attack
def test_sigkill_mid_run_is_cleaned_up_and_harmless(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"notes.txt": "mine\n"})
    git(repo, "branch", "feature")
    (repo / "notes.txt").write_text("mine\nuncommitted\n")  # the user's work in progress
    before = repo_state(repo)
    turns = [
        raw_call("update_plan", plan=[{"step": "x", "status": "in_progress"}]),
        raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
        sh("touch .running; sleep 30", timeout=60),
        finish(),
    ]
    client = docker.from_env()
    try:
        proc = start_fix(repo, turns, tmp_path / "killed")
        try:
            workspace = wait_until(lambda: session_workspace(tmp_path / "killed"), 120, "the workspace")
            wait_until(lambda: (workspace / ".running").exists(), 120, "the long command")
            leftover = wait_until(lambda: _containers_of(client, proc.pid), 60, "the container")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
        assert client.containers.get(leftover[0]).status == "running"  # really left behind
        assert repo_state(repo) == before
        git(repo, "fsck", "--strict", "--no-dangling")

        # The next qcode start reaps it (container, and the workspace's mount when running as root);
        # the run itself works on the same repository.
        again = run_fix(repo, turns[:2] + [finish()], tmp_path / "killed")
        assert again.result["status"] == "resolved", again.result
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(leftover[0])
        assert str(workspace) not in Path("/proc/self/mounts").read_text()
    finally:
        client.close()
    after = repo_state(repo)
    assert {k: v for k, v in after.items() if k != "branches"} == {
        k: v for k, v in before.items() if k != "branches"
    }
    assert set(before["branches"].splitlines()) < set(after["branches"].splitlines())
    new = set(after["branches"].splitlines()) - set(before["branches"].splitlines())
    assert [line.split()[0] for line in new] == [f"refs/heads/{again.result['branch']}"]
    git(repo, "fsck", "--strict", "--no-dangling")
