"""The Docker sandbox provider: a size-capped workspace mount and a container per session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qcode.agent.contracts import Sandbox
from qcode.sandbox.container import DockerSandbox, SandboxSettings
from qcode.sandbox.quota import prepare_workspace_mount

__all__ = ["DockerProvider"]


class DockerProvider:
    """Fits agent.sandboxes.SandboxProvider."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings

    @contextmanager
    def workspace(self, path: Path, size: str | None, keep: bool) -> Iterator[str]:
        with prepare_workspace_mount(path, size, keep=keep) as mount:
            yield f"workspace size: {mount.note}" if mount.note else ""

    def start(self, workspace: Path, session_id: str) -> Sandbox:
        return DockerSandbox(workspace, self.settings, session_id).start()
