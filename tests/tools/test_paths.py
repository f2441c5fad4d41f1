"""Workspace containment: nothing outside the workspace is read or written (invariant 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qcode.agent.exceptions import ToolError
from qcode.tools import files, paths
from qcode.tools.paths import open_in_workspace, resolve_in_workspace

SECRET = "host secret\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace next to a host folder holding a file the tools must never touch."""
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret.txt").write_text(SECRET)
    return root


def host_file(ws: Path) -> Path:
    return ws.parent / "host" / "secret.txt"


@pytest.mark.parametrize(
    ("rel", "hint"),
    [
        ("../host/secret.txt", "above the workspace root"),
        ("src/../../host/secret.txt", "above the workspace root"),
        ("/etc/passwd", "relative to the workspace root"),
        ("~/.bashrc", "home directory"),
        ("~", "home directory"),
        ("src/app.py\x00.txt", "NUL"),
    ],
)
def test_escaping_paths_are_refused_with_a_hint(ws: Path, rel: str, hint: str) -> None:
    with pytest.raises(ToolError, match=hint):
        resolve_in_workspace(ws, rel)


def test_absolute_path_inside_the_workspace_is_still_refused(ws: Path) -> None:
    with pytest.raises(ToolError, match="like 'src/app.py'"):
        resolve_in_workspace(ws, str(ws / "src" / "app.py"))


def test_dotdot_that_stays_inside_is_allowed(ws: Path) -> None:
    assert resolve_in_workspace(ws, "src/../src/app.py") == (ws / "src" / "app.py").resolve()


def test_symlinked_file_pointing_outside_is_refused(ws: Path) -> None:
    (ws / "link.txt").symlink_to(host_file(ws))
    with pytest.raises(ToolError, match="symlink"):
        resolve_in_workspace(ws, "link.txt")


def test_symlinked_parent_folder_pointing_outside_is_refused(ws: Path) -> None:
    (ws / "hostdir").symlink_to(host_file(ws).parent, target_is_directory=True)
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve_in_workspace(ws, "hostdir/secret.txt")
    with pytest.raises(ToolError):
        resolve_in_workspace(ws, "hostdir/new.txt")  # not yet existing, still outside


def test_sibling_folder_sharing_the_prefix_is_outside(tmp_path: Path, ws: Path) -> None:
    # A string-prefix check would let "ws-evil" pass as inside "ws".
    evil = tmp_path / "ws-evil"
    evil.mkdir()
    (ws / "x").symlink_to(evil, target_is_directory=True)
    with pytest.raises(ToolError):
        resolve_in_workspace(ws, "x/file.txt")


def test_symlink_inside_to_inside_is_allowed(ws: Path) -> None:
    (ws / "alias.py").symlink_to(ws / "src" / "app.py")
    assert resolve_in_workspace(ws, "alias.py") == (ws / "src" / "app.py").resolve()
    assert files.read_file(ws, "alias.py") == "     1\tprint('hi')"


def test_must_exist(ws: Path) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        resolve_in_workspace(ws, "nope.py", must_exist=True)
    assert resolve_in_workspace(ws, "nope.py") == ws.resolve() / "nope.py"


@pytest.mark.parametrize("rel", ["link.txt", "hostdir/secret.txt", "../host/secret.txt"])
def test_host_file_stays_unread_and_unchanged(ws: Path, rel: str) -> None:
    (ws / "link.txt").symlink_to(host_file(ws))
    (ws / "hostdir").symlink_to(host_file(ws).parent, target_is_directory=True)
    attempts = [
        lambda: files.read_file(ws, rel),
        lambda: files.write_file(ws, rel, "pwned\n"),
        lambda: files.edit_file(ws, rel, "host secret", "pwned"),
    ]
    for attempt in attempts:
        with pytest.raises(ToolError) as err:
            attempt()
        assert "host secret" not in str(err.value)
    assert host_file(ws).read_text() == SECRET
    assert sorted(os.listdir(host_file(ws).parent)) == ["secret.txt"]


def test_open_refuses_a_symlink_swapped_in_after_the_check(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate the race: the path resolves inside, then becomes a symlink to the host file.
    real_resolve = paths.resolve_in_workspace

    def resolve_then_swap(root: Path, rel: str, *, must_exist: bool = False) -> Path:
        resolved = real_resolve(root, rel, must_exist=must_exist)
        (ws / "src" / "app.py").unlink()
        (ws / "src" / "app.py").symlink_to(host_file(ws))
        return resolved

    monkeypatch.setattr(paths, "resolve_in_workspace", resolve_then_swap)
    with pytest.raises(ToolError, match="symlink"):
        open_in_workspace(ws, "src/app.py", "wb")
    assert host_file(ws).read_text() == SECRET


def test_open_refuses_a_parent_folder_swapped_for_a_symlink(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ws / "src" / "secret.txt").write_text("workspace copy\n")
    real_resolve = paths.resolve_in_workspace

    def resolve_then_swap(root: Path, rel: str, *, must_exist: bool = False) -> Path:
        resolved = real_resolve(root, rel, must_exist=must_exist)
        (ws / "src").rename(ws / "src-old")
        (ws / "src").symlink_to(host_file(ws).parent, target_is_directory=True)
        return resolved

    monkeypatch.setattr(paths, "resolve_in_workspace", resolve_then_swap)
    with pytest.raises(ToolError, match="symlink"):
        open_in_workspace(ws, "src/secret.txt", "rb")


def test_open_writes_create_parent_folders_inside(ws: Path) -> None:
    with open_in_workspace(ws, "a/b/c.txt", "w") as handle:
        handle.write("x\r\n")
    assert (ws / "a" / "b" / "c.txt").read_bytes() == b"x\r\n"
    with open_in_workspace(ws, "a/b/c.txt", "r") as handle:
        assert handle.read() == "x\r\n"  # line endings untouched


def test_find_rg_finds_the_wheels_binary() -> None:
    rg = paths.find_rg()
    assert rg is not None and os.access(rg, os.X_OK)
