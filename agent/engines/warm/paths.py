"""Where the warm engine's files live: `$XDG_RUNTIME_DIR/qcode/`, else `<state folder>/engine/`.

The folder is the user's alone (0700, owned by them, not a link); the socket in it is 0600 too.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from qcode.agent.exceptions import UserError

__all__ = ["EnginePaths", "engine_paths"]

SOCKET_PATH_MAX = 100
"""A Unix socket path must fit `sun_path` (108 bytes on Linux, less elsewhere)."""


@dataclass(frozen=True)
class EnginePaths:
    folder: Path

    @property
    def socket(self) -> Path:
        return self.folder / "engine.sock"

    @property
    def lock(self) -> Path:
        return self.folder / "engine.lock"

    @property
    def log(self) -> Path:
        return self.folder / "engine.log"


def engine_paths(state_dir: Path) -> EnginePaths:
    """The engine's folder, made private to this user; UserError when it cannot be."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(runtime) / "qcode" if runtime else Path(state_dir) / "engine"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise UserError(
            f"{folder} is not a folder of yours (a link, or another user's); remove it or set "
            "XDG_RUNTIME_DIR to a private folder"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        folder.chmod(0o700)
    paths = EnginePaths(folder)
    if len(os.fsencode(paths.socket)) > SOCKET_PATH_MAX:
        raise UserError(
            f"the engine socket path {paths.socket} is too long for a Unix socket; set XDG_RUNTIME_DIR "
            "to a shorter folder, or pass --no-daemon"
        )
    return paths
