"""Workspace containment: file tools never reach outside the workspace (DESIGN invariant 3).

`resolve_in_workspace` refuses absolute paths, `~`, `..` escapes and symlinks whose real target
is outside the root. `open_in_workspace` then opens the resolved path one component at a time
with O_NOFOLLOW, so a symlink swapped in after the check is refused instead of followed.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
from pathlib import Path, PurePosixPath
from typing import IO, Any

from qcode.agent.bounded import run_bounded
from qcode.agent.exceptions import ToolError

__all__ = [
    "find_rg",
    "open_in_workspace",
    "read_capped",
    "require_file_or_folder",
    "resolve_in_workspace",
    "workspace_relative",
]

_EXAMPLE = "like 'src/app.py'"


def resolve_in_workspace(root: Path, rel: str, *, must_exist: bool = False) -> Path:
    """The real (symlink-free) path of `rel` under `root`, or a ToolError the model can act on."""
    if "\x00" in rel:
        raise ToolError(f"path {rel!r} contains a NUL byte; send a plain relative path {_EXAMPLE}.")
    if rel.startswith("~"):
        raise ToolError(
            f"path {rel!r} points at a home directory; paths must be relative to the workspace "
            f"root, {_EXAMPLE}."
        )
    if PurePosixPath(rel).is_absolute() or Path(rel).is_absolute():
        raise ToolError(
            f"path {rel!r} is absolute; paths must be relative to the workspace root, {_EXAMPLE}."
        )
    try:
        base = Path(os.path.realpath(root))
        real = Path(os.path.realpath(base / (rel or ".")))
    except (OSError, ValueError) as err:  # a link loop or a name the OS refuses: not a crash
        raise ToolError(
            f"path {rel!r} cannot be resolved ({err}); use list_files to see what exists."
        ) from None
    if not real.is_relative_to(base):
        why = (
            "goes above the workspace root"
            if ".." in PurePosixPath(rel).parts
            else ("is a symlink (or inside a symlinked folder) that points outside the workspace")
        )
        raise ToolError(f"path {rel!r} {why}; only files inside the workspace can be used.")
    if must_exist and not real.exists():
        raise ToolError(f"{rel!r} does not exist in the workspace.")
    return real


def require_file_or_folder(real: Path, rel: str) -> None:
    """A search or listing root must be a regular file or a folder: ripgrep given a FIFO by name
    would block on it (while walking, it skips them)."""
    if not (real.is_dir() or real.is_file()):
        raise ToolError(f"{rel!r} is not a regular file or folder (a FIFO, socket or device); refused.")


def workspace_relative(root: Path, real: Path) -> str:
    """A resolved path as the model should see it: relative, with forward slashes."""
    rel = real.relative_to(os.path.realpath(root)).as_posix()
    return "." if rel == "" else rel


def open_in_workspace(root: Path, rel: str, mode: str = "rb") -> IO[Any]:
    """Open `rel` race-safely: "rb"/"r" read, "wb"/"w" create or truncate (making parent dirs).

    Each component of the resolved path is opened relative to its parent's descriptor with
    O_NOFOLLOW, so nothing that became a symlink after `resolve_in_workspace` is followed.
    Text modes use UTF-8 and keep line endings as they are.
    """
    if mode not in {"r", "rb", "w", "wb"}:
        raise ValueError(f"unsupported mode {mode!r}")
    writing = mode.startswith("w")
    real = resolve_in_workspace(root, rel, must_exist=not writing)
    parts = real.relative_to(os.path.realpath(root)).parts
    if not parts:
        raise ToolError(f"{rel!r} is the workspace folder itself, not a file.")
    nofollow = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    dir_fd = os.open(os.path.realpath(root), os.O_RDONLY | os.O_DIRECTORY | nofollow)
    try:
        for part in parts[:-1]:
            child = _enter(dir_fd, part, create=writing, flags=nofollow)
            os.close(dir_fd)
            dir_fd = child
        flags = os.O_WRONLY | os.O_CREAT if writing else os.O_RDONLY
        try:
            # O_NONBLOCK: a FIFO (or device) opens at once instead of blocking qcode forever; it is
            # refused below, before a byte is read or written.
            fd = os.open(parts[-1], flags | nofollow | os.O_NONBLOCK, 0o666, dir_fd=dir_fd)
        except IsADirectoryError:
            raise ToolError(f"{rel!r} is a folder, not a file; use list_files to see it.") from None
        except OSError as err:
            raise _refusal(rel, err) from None
    finally:
        os.close(dir_fd)
    _require_regular(fd, rel)
    if writing:
        os.ftruncate(fd, 0)
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding="utf-8", newline="")


def _require_regular(fd: int, rel: str) -> None:
    """Only regular files are read or written: a FIFO, socket or device would stream without end."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        os.set_blocking(fd, True)
        return
    os.close(fd)
    raise ToolError(f"{rel!r} is not a regular file (a FIFO, socket or device); refused.")


def read_regular(path: Path, limit: int) -> bytes | None:
    """At most `limit` + 1 bytes of the regular file at `path` (a caller compares with `limit`),
    opened without following a final link and non-blocking; None when it is missing, a link, a
    FIFO, socket or device. For files outside the workspace (config, command files)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(limit + 1)


def read_capped(root: Path, rel: str, limit: int) -> bytes:
    """The bytes of a regular workspace file, refused when larger than `limit`: the size is checked
    on the open descriptor and the read stops at limit + 1, so a file that grows cannot grow qcode."""
    with open_in_workspace(root, rel, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(limit + 1) if size <= limit else b""
    if size > limit or len(data) > limit:
        raise ToolError(f"{rel!r} is too large ({max(size, len(data))} bytes or more) to open; use search.")
    return data


def _enter(dir_fd: int, part: str, *, create: bool, flags: int) -> int:
    """Open one folder below `dir_fd`, creating it first when writing."""
    try:
        if create:
            try:
                os.mkdir(part, 0o777, dir_fd=dir_fd)
            except FileExistsError:
                pass
        return os.open(part, os.O_RDONLY | os.O_DIRECTORY | flags, dir_fd=dir_fd)
    except OSError as err:
        raise _refusal(part, err) from None


def _refusal(rel: str, err: OSError) -> ToolError:
    if err.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink that appeared after the check
        return ToolError(f"{rel!r} turned into a symlink while opening it; refused.")
    if err.errno == errno.ENOTDIR:  # a file, or (with O_NOFOLLOW) a symlink, where a folder was
        return ToolError(f"{rel!r} is not a plain folder (a file or a symlink); refused.")
    return ToolError(f"cannot open {rel!r}: {err.strerror or err}.")


def find_rg() -> str | None:
    """The ripgrep binary from the `ripgrep` wheel (next to this Python), else one on PATH."""
    beside = Path(sys.executable).parent / ("rg.exe" if os.name == "nt" else "rg")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("rg")


LIST_OUTPUT_BYTES = 8_000_000
"""Bytes of file names kept from one listing (about 100,000 ordinary paths)."""

RG_BASE = ["--hidden", "--no-require-git", "--glob", "!.git", "--color=never", "--no-messages"]
"""ripgrep's view of a workspace: hidden files included, .gitignore applied even outside git, .git out."""


def rg_files(
    root: Path, extra: list[str] | None = None, timeout: float = 60.0, limit: int = LIST_OUTPUT_BYTES
) -> list[str] | None:
    """`rg --files` under `root` (paths relative to it), or None when ripgrep is missing or failed.
    At most `limit` bytes of names are kept (the rest are dropped: a listing is capped anyway).
    Names that are not UTF-8 survive (surrogateescape) instead of failing the decode."""
    rg = find_rg()
    if rg is None:
        return None
    try:
        proc = run_bounded([rg, "--files", *RG_BASE, *(extra or [])], root, limit=limit, timeout=timeout)
    except OSError:
        return None
    if proc.timed_out or (proc.returncode not in (0, 1) and not proc.truncated):
        return None  # 1: no files at all, which is still an answer
    out = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.truncated:
        out = out[:-1]  # cut mid-name
    return [line.removeprefix("./") for line in out if line]
