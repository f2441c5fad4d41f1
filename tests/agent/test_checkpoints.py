from pathlib import Path

import pytest
from qcode.agent.checkpoints import Checkpoints
from qcode.agent.workspace import Workspace, inspect_repo

from tests.conftest import git


@pytest.mark.slow
def test_snapshot_and_restore_cover_untracked_files(tmp_path: Path, make_repo) -> None:
    repo = make_repo({"a.py": "x = 1\n", ".gitignore": "build/\n"})
    (tmp_path / "s").mkdir()
    ws = Workspace(tmp_path / "s", inspect_repo(repo))
    ws.create("qcode/t")
    points = Checkpoints(ws)
    first = points.snapshot(1, "edit_file")
    assert first is not None and first.number == 1
    assert points.snapshot(2, "shell") is None  # unchanged: no new checkpoint

    (ws.path / "a.py").write_text("x = 2\n")
    (ws.path / "new.txt").write_text("made by a shell command\n")
    (ws.path / "build").mkdir()
    (ws.path / "build" / "cache.bin").write_text("ignored\n")
    second = points.snapshot(3, "shell")
    assert second is not None and second.number == 2 and [c.number for c in points.all()] == [1, 2]
    (ws.path / "a.py").write_text("x = 3\n")
    (ws.path / "new.txt").unlink()
    (ws.path / "later.txt").write_text("later\n")

    stat = points.restore(second)
    assert (ws.path / "a.py").read_text() == "x = 2\n"
    assert (ws.path / "new.txt").read_text() == "made by a shell command\n"
    assert not (ws.path / "later.txt").exists()
    assert "a.py" in stat
    points.restore(first)
    assert (ws.path / "a.py").read_text() == "x = 1\n" and not (ws.path / "new.txt").exists()
    assert (ws.path / "build" / "cache.bin").exists()  # ignored files are left alone
    # Private refs only: nothing reaches the user's repository or its branches.
    assert git(repo, "for-each-ref").count("refs/heads/") == 1
    assert "checkpoints" not in git(repo, "for-each-ref")


def test_restore_replaces_a_planted_symlink_instead_of_following_it(tmp_path: Path, make_repo) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = make_repo({"pkg/mod.py": "x = 1\n"})
    (tmp_path / "s").mkdir()
    ws = Workspace(tmp_path / "s", inspect_repo(repo))
    ws.create("qcode/t")
    points = Checkpoints(ws)
    first = points.snapshot(1, "shell")
    assert first is not None
    # The sandbox replaces the folder with a link to a host folder.
    (ws.path / "pkg" / "mod.py").unlink()
    (ws.path / "pkg").rmdir()
    (ws.path / "pkg").symlink_to(outside)
    points.restore(first)
    assert not (ws.path / "pkg").is_symlink()
    assert (ws.path / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert list(outside.iterdir()) == []


def test_an_empty_workspace_folder_is_never_a_checkpoint(tmp_path: Path, make_repo) -> None:
    """An unmounted loop mount point (root) is an empty folder: recording it would make a resume
    delete every file. A model deleting every file still leaves `.git`, and that is recorded."""
    import shutil

    repo = make_repo({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    (tmp_path / "s").mkdir()
    ws = Workspace(tmp_path / "s", inspect_repo(repo))
    ws.create("qcode/t")
    points = Checkpoints(ws)
    (ws.path / "a.py").write_text("x = 2\n")
    kept = points.snapshot(1, "edit_file")
    assert kept is not None

    for entry in ws.path.iterdir():  # what an unmounted mount point looks like
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    assert points.snapshot(2, "session closed") is None
    assert [c.number for c in points.all()] == [1]

    ws.path.rmdir()
    assert points.snapshot(2, "session closed") is None


def test_a_resume_passes_over_an_empty_closing_checkpoint_of_older_versions(
    tmp_path: Path, make_repo
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    (tmp_path / "s").mkdir()
    ws = Workspace(tmp_path / "s", inspect_repo(repo))
    ws.create("qcode/t")
    points = Checkpoints(ws)
    (ws.path / "a.py").write_text("x = 2\n")
    real = points.snapshot(1, "edit_file")
    assert real is not None
    empty = ws.commit_tree(
        "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "checkpoint 2 before step 3: session closed",
        [real.commit],
    )
    ws.git(["update-ref", "refs/qcode/checkpoints/000002", empty])

    (ws.path / "a.py").write_text("x = 9\n")
    assert points.restore_latest() == real
    assert (ws.path / "a.py").read_text() == "x = 2\n"
