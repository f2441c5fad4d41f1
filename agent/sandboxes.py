"""Where a session's sandbox comes from: a provider prepares the workspace folder and starts the
sandbox on it. Docker is one provider (sandbox/provider.py); tests may bring their own."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

from qcode.agent.contracts import Sandbox

__all__ = ["SandboxProvider"]


@runtime_checkable
class SandboxProvider(Protocol):
    def workspace(self, path: Path, size: str | None, keep: bool) -> AbstractContextManager[str]:
        """Make `path` ready for the workspace clone (e.g. a size-capped mount) until exit; yields a
        note for the person ('' when there is nothing to say). With `keep` the files stay after."""
        ...

    def start(self, workspace: Path, session_id: str) -> Sandbox:
        """A started sandbox with `workspace` at /workspace."""
        ...
