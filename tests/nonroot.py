"""A non-root harness: run a command as an ordinary user in the `docker` group, so the code paths
qcode takes without root (plain-folder workspace, RLIMIT_FSIZE and the per-command size check,
the sandbox running as the caller's uid) are tested on a machine where tests run as root.

The user is created once (`useradd`, no home). The interpreter lives under /root here, which an
ordinary user cannot traverse; the harness grants only CAP_DAC_READ_SEARCH (read and traverse,
never write, never any other privilege) so the same venv runs. Use the `nonroot` fixture:
`run_fix(..., as_user=nonroot.prefix)`, with the repository and state under `nonroot_tmp` and
`nonroot.own(path)` for folders qcode must write.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["NONROOT_USER", "NonRoot", "nonroot", "nonroot_tmp"]

NONROOT_USER = "qcode-nonroot"


@dataclass(frozen=True)
class NonRoot:
    uid: int
    gid: int

    @property
    def prefix(self) -> list[str]:
        """argv prefix that runs the rest as this user, in the docker group (none when the tests
        already run as an ordinary user)."""
        if os.geteuid() != 0:
            return []
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            f"--groups={grp.getgrnam('docker').gr_gid}",
            "--inh-caps=+dac_read_search",
            "--ambient-caps=+dac_read_search",
            "--",
        ]

    def own(self, path: Path) -> Path:
        """Make `path` (a folder, created if needed) and everything below it the user's."""
        path.mkdir(parents=True, exist_ok=True)
        for item in [path, *path.rglob("*")]:
            os.lchown(item, self.uid, self.gid)
        return path


def _ensure_user() -> NonRoot:
    try:
        entry = pwd.getpwnam(NONROOT_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "-M", "-N", "-g", "nogroup", "-G", "docker", "-s", "/usr/sbin/nologin", NONROOT_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(NONROOT_USER)
    return NonRoot(entry.pw_uid, entry.pw_gid)


@pytest.fixture
def nonroot_tmp(nonroot: NonRoot) -> Iterator[Path]:
    """A folder the user owns under a path it can traverse (pytest's tmp_path sits below a 0700
    folder of root, and git's access() checks ignore capabilities)."""
    folder = Path(tempfile.mkdtemp(prefix="qcode-nonroot-"))
    folder.chmod(0o755)
    os.chown(folder, nonroot.uid, nonroot.gid)
    yield folder
    subprocess.run(["rm", "-rf", "--", str(folder)], check=False)


@pytest.fixture(scope="session")
def nonroot() -> NonRoot:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        # Already an ordinary user (a developer machine): the plain run is the non-root run.
        return NonRoot(os.getuid(), os.getgid())
    return _ensure_user()
