"""Resource caps the container limits do not cover: the workspace's size and a fork bomb that
outlives its command.

Docker caps memory, CPU, pids and the /tmp tmpfs, but the workspace is a bind mount of a host
folder: without a cap, a loop in the sandbox fills the host's disk. Two mechanisms:

- qcode as root (CI): `prepare_workspace_mount` puts the workspace on a loop-mounted ext4 image of
  a fixed size (a sparse file in the session folder). The kernel enforces the cap: writes past it
  fail with ENOSPC inside the sandbox, and the host disk never sees more than the image.
- otherwise: an RLIMIT_FSIZE ulimit on the container (`fsize_ulimits`: no single file may exceed
  the cap) and a host-side size check after each command (`WorkspaceSizeWatch`) that tells the model.

`pids_in_use` reads the container's pids cgroup on the host (a Docker stats call takes ~1 s), so
the sandbox can notice a process table left full by a backgrounded fork bomb. It reports the
kernel's count of refused forks (`pids.events`) besides the live count: a bomb's population swings
below any threshold as its processes die, but every fork it has been refused stays counted.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import docker.types
from qcode.agent.sizes import parse_size
from qcode.sandbox.reaper import owner_alive, owner_label

__all__ = [
    "PidsUsage",
    "WorkspaceMount",
    "WorkspaceSizeWatch",
    "disk_usage",
    "fsize_ulimits",
    "over_quota_note",
    "parse_size",
    "pids_in_use",
    "prepare_workspace_mount",
    "reap_stale_mounts",
]

OWNER_FILE = "workspace.owner"
_FREE_SHARE = 0.9
"""The image never gets more than this share of the host filesystem's free space."""


@dataclass
class WorkspaceMount:
    """What `prepare_workspace_mount` set up; `note` says why there is no kernel-enforced cap."""

    path: Path
    size: int
    mounted: bool = False
    image: Path | None = None
    note: str = ""


@contextmanager
def prepare_workspace_mount(
    path: Path, size: str | int | None, *, keep: bool = False
) -> Iterator[WorkspaceMount]:
    """Mount an ext4 image of `size` bytes at `path` (made, empty) for the workspace; undone on exit.

    Call it before the clone: `git clone` into the empty mount point. On exit the image is unmounted
    and deleted; with `keep`, the workspace's files are first copied out to `path`. Not root, no
    size, or no loop device: nothing is mounted and `note` says so (the per-command check remains).
    """
    path.mkdir(parents=True, exist_ok=True)
    if not size:
        yield WorkspaceMount(path, 0, note="no workspace size cap configured")
        return
    wanted = parse_size(size)
    if os.geteuid() != 0:
        yield WorkspaceMount(path, wanted, note="not root: the workspace size is checked after each command")
        return
    mount = _mount_image(path, wanted)
    try:
        yield mount
    finally:
        if mount.mounted:
            _unmount(mount, keep)


def _mount_image(path: Path, wanted: int) -> WorkspaceMount:
    free = shutil.disk_usage(path.parent).free
    size = min(wanted, int(free * _FREE_SHARE))
    note = (
        f"the host has {free >> 20} MiB free: the workspace cap is {size >> 20} MiB" if size < wanted else ""
    )
    image = path.parent / f"{path.name}.img"
    try:
        with open(image, "wb") as handle:
            handle.truncate(size)  # sparse: costs only what the workspace holds
        # no journal (a scratch copy), an inode per 4 KiB (source trees are many small files),
        # 2 % reserved for root: host-side restores still work when the sandbox filled the rest.
        _run(["mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-i", "4096", "-m", "2", str(image)])
        _run(["mount", "-o", "loop,nosuid,nodev,noatime", str(image), str(path)])
    except (OSError, subprocess.CalledProcessError) as err:
        image.unlink(missing_ok=True)
        detail = err.stderr.strip() if isinstance(err, subprocess.CalledProcessError) else str(err)
        return WorkspaceMount(
            path,
            wanted,
            note=f"could not mount a workspace image ({detail}); "
            "the workspace size is checked after each command",
        )
    (path / "lost+found").rmdir()  # git clone wants an empty folder; e2fsck would make it again
    # Who holds the mount: a qcode killed with SIGKILL cannot unmount, the next start reaps it.
    (path.parent / OWNER_FILE).write_text(owner_label())
    return WorkspaceMount(path, size, mounted=True, image=image, note=note)


def reap_stale_mounts(state_dir: Path) -> list[Path]:
    """Unmount session workspaces under `state_dir` whose owning qcode process is gone."""
    if os.geteuid() != 0:
        return []
    sessions = (state_dir / "sessions").resolve()
    reaped = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        # /proc/mounts escapes whitespace in paths as octal (\040 for a space)
        target = Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[1]))
        if target.name != "workspace" or target.parent.parent != sessions:
            continue
        owner = target.parent / OWNER_FILE
        if owner.is_file() and owner_alive(owner.read_text().strip()):
            continue
        _run(["umount", "--lazy", str(target)])
        (target.parent / f"{target.name}.img").unlink(missing_ok=True)
        owner.unlink(missing_ok=True)
        reaped.append(target)
    return reaped


def _unmount(mount: WorkspaceMount, keep: bool) -> None:
    path = mount.path
    saved = path.with_name(path.name + ".kept")
    if keep and any(path.iterdir()):
        _run(["cp", "-a", "--", f"{path}/.", str(saved)])
    try:
        _run(["umount", str(path)])
    except subprocess.CalledProcessError:
        _run(["umount", "--lazy", str(path)])  # a straggler holds it: detach now, freed when it exits
    if mount.image is not None:
        mount.image.unlink(missing_ok=True)
    (path.parent / OWNER_FILE).unlink(missing_ok=True)
    if saved.exists():
        shutil.rmtree(path, ignore_errors=True)
        saved.rename(path)


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120)


def disk_usage(root: Path) -> int:
    """Bytes allocated under `root` (hard links once), without following symlinks or crossing mounts."""
    total, seen = 0, set()
    device = root.lstat().st_dev
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue  # vanished or unreadable while we walked
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_dev != device or (info.st_ino, info.st_dev) in seen:
                continue
            seen.add((info.st_ino, info.st_dev))
            total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
    return total


def over_quota_note(root: Path, limit: int, used: int | None = None) -> str | None:
    """A line for the model when the workspace holds more than `limit` bytes (`used`, measured now
    when not given), else None."""
    used = disk_usage(root) if used is None else used
    if used <= limit:
        return None
    return (
        f"[the workspace holds {used / 2**20:,.0f} MiB, over its {limit / 2**20:,.0f} MiB cap: "
        "delete large or generated files (build outputs, data, logs) before continuing]"
    )


class WorkspaceSizeWatch:
    """The per-command size check of a plain-folder workspace, walking the tree only when it may be
    over the cap: a walk of a Django-size tree takes ~80 ms, reading the filesystem's free space
    microseconds. Every byte the filesystem lost since the last look (to this workspace or to
    anything else on it) is added to an upper bound of the workspace's size; the tree is walked
    only when that bound passes the cap, and the walk resets the bound. The bound only ever
    overestimates, so no overage is missed; at worst a walk is wasted."""

    def __init__(self, root: Path, limit: int) -> None:
        self.root, self.limit = root, limit
        self._free = shutil.disk_usage(root).free
        self._bound = disk_usage(root)

    def check(self, guard: Callable[[], AbstractContextManager[None]] = nullcontext) -> str | None:
        """A line for the model when the workspace is over its cap, else None. `guard` is entered
        around the walk: the sandbox's freeze, so no swapped-in symlink leads it outside."""
        free = shutil.disk_usage(self.root).free
        self._bound += max(0, self._free - free)
        self._free = free
        if self._bound <= self.limit:
            return None
        with guard():
            self._bound = disk_usage(self.root)
        return over_quota_note(self.root, self.limit, used=self._bound)


def fsize_ulimits(limit: int) -> list[docker.types.Ulimit]:
    """RLIMIT_FSIZE for the container: a write past `limit` bytes in one file fails (SIGXFSZ)."""
    return [docker.types.Ulimit(name="fsize", soft=limit, hard=limit)]


@dataclass(frozen=True)
class PidsUsage:
    """The container's pids cgroup, read on the host."""

    current: int
    limit: int
    refused_forks: int
    """Forks refused because the limit was reached, since the cgroup was created (never decreases)."""


def pids_in_use(container_pid: int) -> PidsUsage | None:
    """The pids cgroup holding `container_pid`; None when it is not readable here (another host,
    rootless, unusual layout)."""
    try:
        lines = Path(f"/proc/{container_pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if controllers == "":
            folder = Path("/sys/fs/cgroup") / group.lstrip("/")  # cgroup v2
        elif "pids" in controllers.split(","):
            folder = Path("/sys/fs/cgroup") / controllers / group.lstrip("/")
        else:
            continue
        try:
            current = int((folder / "pids.current").read_text())
            limit_text = (folder / "pids.max").read_text().strip()
        except (OSError, ValueError):
            continue
        limit = int(limit_text) if limit_text.isdigit() else 1 << 30
        return PidsUsage(current, limit, _refused_forks(folder))
    return None


def _refused_forks(folder: Path) -> int:
    """The `max` count of `pids.events` (0 on kernels without the file: the live count still works)."""
    try:
        events = (folder / "pids.events").read_text().split()
        return int(events[events.index("max") + 1])
    except (OSError, ValueError, IndexError):
        return 0
