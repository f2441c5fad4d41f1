"""sandbox/quota.py against the real kernel and Docker: the loop-mounted workspace cap (root), and the
RLIMIT_FSIZE + per-command check used when the workspace is a plain folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qcode.sandbox import quota
from qcode.sandbox.container import DockerSandbox, SandboxSettings
from qcode.sandbox.quota import (
    WorkspaceSizeWatch,
    disk_usage,
    over_quota_note,
    parse_size,
    prepare_workspace_mount,
)

from tests.conftest import SANDBOX_IMAGE, git
from tests.safety.repos import make_repo

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="loop mounts need root")


def _mounted(path: Path) -> bool:
    return any(line.split()[1] == str(path) for line in Path("/proc/mounts").read_text().splitlines())


def test_parse_size() -> None:
    assert parse_size("512m") == 512 * 2**20 and parse_size("8G") == 8 * 2**30 and parse_size(4096) == 4096
    assert parse_size("1.5g") == int(1.5 * 2**30) and parse_size("10MiB") == 10 * 2**20
    with pytest.raises(ValueError, match="like '8g'"):
        parse_size("lots")


@needs_root
@pytest.mark.docker
def test_loop_mounted_workspace_caps_what_the_sandbox_can_write(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    workspace = tmp_path / "session" / "workspace"
    with prepare_workspace_mount(workspace, "64m") as mount:
        assert mount.mounted and _mounted(workspace) and mount.note == ""
        git(workspace.parent, "clone", "-q", str(repo), str(workspace))  # the mount point is empty
        with DockerSandbox(workspace, SandboxSettings(image=SANDBOX_IMAGE, disk="64m"), "quota") as box:
            fill = box.exec("for i in $(seq 1 20); do head -c 10M /dev/zero > f$i || break; done; echo end")
            assert "No space left on device" in fill.output
            assert box.exec("rm -f f*; echo alive").output == "alive\n"
        assert disk_usage(workspace) < 64 * 2**20
    assert not _mounted(workspace) and not (tmp_path / "session" / "workspace.img").exists()


@needs_root
def test_keep_copies_the_workspace_out_before_unmounting(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    with prepare_workspace_mount(workspace, "32m", keep=True):
        (workspace / "sub").mkdir()
        (workspace / "sub" / "kept.txt").write_text("kept\n")
        (workspace / "link").symlink_to("sub/kept.txt")
    assert not _mounted(workspace)
    assert (workspace / "sub" / "kept.txt").read_text() == "kept\n" and (workspace / "link").is_symlink()


def test_no_size_means_no_mount(tmp_path: Path) -> None:
    with prepare_workspace_mount(tmp_path / "w", None) as mount:
        assert not mount.mounted and "no workspace size cap" in mount.note and (tmp_path / "w").is_dir()


@pytest.mark.docker
def test_without_a_mount_one_file_is_capped_and_the_model_is_told(tmp_path: Path) -> None:
    with DockerSandbox(tmp_path, SandboxSettings(image=SANDBOX_IMAGE, disk="32m"), "quota-plain") as box:
        big = box.exec("head -c 100M /dev/zero > big; echo exit=$?")
        assert "exit=153" in big.output and "File size limit exceeded" in big.output
        many = box.exec("rm -f big; for i in 1 2 3; do head -c 20M /dev/zero > f$i; done; echo done")
        assert "over its 32 MiB cap" in many.output
        assert box.exec("rm -f f*; echo ok").output == "ok\n"
    assert over_quota_note(tmp_path, 2**30) is None


def test_the_size_watch_walks_the_tree_only_when_it_may_be_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = WorkspaceSizeWatch(tmp_path, 16 * 2**20)
    walks: list[Path] = []
    monkeypatch.setattr(quota, "disk_usage", lambda root: walks.append(root) or disk_usage(root))
    (tmp_path / "small").write_bytes(b"x" * 2**20)
    assert watch.check() is None and walks == []  # 1 MiB more cannot pass a 16 MiB cap
    (tmp_path / "big").write_bytes(b"x" * 20 * 2**20)
    assert "over its 16 MiB cap" in (watch.check() or "") and len(walks) == 1
    (tmp_path / "big").unlink()
    assert watch.check() is None and len(walks) == 2  # still over at the last look: measured again
    assert watch.check() is None and len(walks) == 2  # measured under the cap: no walk until it grows
