"""Where the warm engine's files live: `$XDG_RUNTIME_DIR/qcode/`, else `<state folder>/engine/`.

Every folder is the user's alone (0700, owned by them, not a link); the socket is 0600 too. A
socket path must fit `sun_path` (108 bytes): when the folder's is too long, the socket goes into
a private folder under /tmp named after the folder (created 0700, or refused if someone else's).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qcode.agent.exceptions import UserError

__all__ = ["EnginePaths", "engine_paths"]

SOCKET_PATH_MAX = 100


@dataclass(frozen=True)
class EnginePaths:
    folder: Path
    socket_folder: Path

    @property
    def socket(self) -> Path:
        return self.socket_folder / "engine.sock"

    @property
    def lock(self) -> Path:
        return self.folder / "engine.lock"

    @property
    def log(self) -> Path:
        return self.folder / "engine.log"


def _private_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise UserError(
            f"{folder} is not a folder of yours (a link, or another user's); remove it or set "
            "XDG_RUNTIME_DIR to a private folder"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        folder.chmod(0o700)
    return folder


def engine_paths(state_dir: Path) -> EnginePaths:
    """The engine's folders, made private to this user; UserError when they cannot be."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = _private_folder((Path(runtime) / "qcode" if runtime else Path(state_dir) / "engine").absolute())
    socket_folder = folder
    if len(os.fsencode(folder / "engine.sock")) > SOCKET_PATH_MAX:
        digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
        socket_folder = _private_folder(Path(tempfile.gettempdir()) / f"qcode-{os.geteuid()}-{digest}")
    return EnginePaths(folder, socket_folder)
