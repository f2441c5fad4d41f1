"""Resume after Ctrl+Q in the real `qcode tui` (tmux): the resumed workspace is the last real state.

As root the workspace is a loop mount; closing the session twice (the app's quit, then `run_tui`'s
`finally`) used to snapshot the unmounted, empty mount point as the "last state", and a resume then
committed a deletion of every file.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory

from tests.conftest import git
from tests.e2e.helpers import raw_call, write_replay
from tests.tui.conftest import BUGGY, FIXED_LINE, TEST, fix_turns
from tests.tui.test_tmux import Terminal, _terminal_env

pytestmark = pytest.mark.docker

CHECKPOINTS = "refs/qcode/checkpoints/"


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Terminal]:
    terminal = Terminal(tmp_path / "tmux.sock")
    yield terminal
    terminal.kill()


def _run_tui(terminal: Terminal, repo: Path, replay: Path, status_file: Path) -> None:
    inner = f"qcode tui --repo {repo} --engine replay:{replay} --approval yolo; echo $? > {status_file}"
    terminal.start(f"sh -c {shlex.quote(inner)}", _terminal_env())
    terminal.wait_for(lambda s: " idle " in s, "the session to be ready")


def _quit(terminal: Terminal, status_file: Path) -> None:
    terminal.keys("C-q")
    deadline = time.monotonic() + 60
    while not status_file.exists() or not status_file.read_text().strip():
        assert time.monotonic() < deadline, f"qcode did not exit; screen:\n{terminal.screen()}"
        time.sleep(0.1)  # polling interval for the exit file, not synchronisation
    assert status_file.read_text().strip() == "0"
    terminal.kill()


def _checkpoint_trees(host_git: Path) -> list[list[str]]:
    refs = git(host_git, "for-each-ref", "--format=%(objectname)", CHECKPOINTS).split()
    return [git(host_git, "ls-tree", "-r", "--name-only", ref).split() for ref in refs]


def test_resume_after_ctrl_q_keeps_the_files(  # type: ignore[no-untyped-def]
    term: Terminal, make_repo, tmp_path: Path, isolated_state: Path
) -> None:
    terminal = term
    repo = make_repo({"stats.py": BUGGY, "test_stats.py": TEST})
    first = write_replay(tmp_path / "first.jsonl", fix_turns())
    _run_tui(terminal, repo, first, tmp_path / "status1")
    terminal.keys("fix mean in stats.py", literal=True)
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "resolved: finished" in s, "the first run to finish")
    _quit(terminal, tmp_path / "status1")

    (session,) = (isolated_state / "sessions").iterdir()
    branch = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/qcode/").split()[0]
    fixed_tree = git(repo, "ls-tree", "-r", "--name-only", branch).split()
    trees = _checkpoint_trees(session / "host.git")
    assert trees, "closing keeps the last state as a checkpoint"
    assert all(tree for tree in trees), f"a checkpoint of an empty tree was taken: {trees}"
    assert trees[-1] == fixed_tree

    follow_up = [
        raw_call("read_file", path="stats.py"),
        raw_call("write_file", path="NOTES.md", content="mean fixed\n"),
        raw_call("finish", summary="added notes"),
    ]
    second = write_replay(tmp_path / "second.jsonl", follow_up)
    _run_tui(terminal, repo, second, tmp_path / "status2")
    terminal.keys("C-o")
    terminal.wait_for(lambda s: "fix mean in stats.py" in s, "the session list")
    terminal.keys("Enter")
    # the resumed session shows its old conversation (rebuilt from the trajectory), then waits
    terminal.wait_for(lambda s: "resolved: finished" in s and " idle " in s, "the resumed session")
    terminal.keys("write notes", literal=True)
    terminal.keys("Enter")
    # the old conversation already holds a "resolved: finished": wait for the follow-up's own end
    terminal.wait_for(lambda s: "added notes" in s and s.count("resolved: finished") == 2, "the follow-up")
    _quit(terminal, tmp_path / "status2")

    reads = [
        r
        for r in read_trajectory(session / "trajectory.jsonl")
        if r["type"] == "observation" and r["name"] == "read_file"
    ]
    assert reads and FIXED_LINE.strip() in reads[-1]["text"], "the resumed workspace holds the fix"
    changed = git(repo, "diff", "--name-status", f"{branch}~1", branch).splitlines()
    assert changed == ["A\tNOTES.md"], "the follow-up's commit changes only what it meant to"
    assert sorted(git(repo, "ls-tree", "-r", "--name-only", branch).split()) == sorted(
        [*fixed_tree, "NOTES.md"]
    )
    assert all(tree for tree in _checkpoint_trees(session / "host.git"))
    assert os.geteuid() != 0 or not (session / "workspace.img").exists(), "the loop image is removed"
