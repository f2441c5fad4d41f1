"""What a session is configured with and what a run returns (what `qcode fix --json` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from qcode.agent.contracts import Usage
from qcode.agent.finish import Status
from qcode.agent.loop import LoopLimits
from qcode.tools.checks import DiagnosticsConfig

__all__ = ["RunResult", "SessionOptions"]


class SessionOptions(BaseModel):
    repo: Path
    state_dir: Path
    limits: LoopLimits = Field(default_factory=LoopLimits)
    command_timeout: float = 120.0
    verify_command: str | None = None
    patch_out: Path | None = None
    branch: str | None = None
    """Branch to commit on; by default `qcode/<slug of the first task>`, made unique."""
    keep_workspace: bool = False
    """Keep the workspace copy after close (for inspection, undo and resume)."""
    workspace_disk: str | None = None
    """Size cap of the workspace, e.g. '8g' (kernel-enforced when qcode runs as root)."""
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    """Checks after every change (syntax, lint or off)."""
    checkpoint_bytes: int | None = None
    """Bytes the host-only git dir's checkpoints may hold; the oldest go first (None: unbounded)."""


class RunResult(BaseModel):
    """What `qcode fix --json` prints."""

    status: Status
    reason: str
    branch: str | None = None
    commit: str | None = None
    patch: str | None = None
    steps: int = 0
    usage: Usage = Field(default_factory=Usage)
    trajectory: str = ""
    session_id: str = ""
    summary: str = ""
    verify: dict[str, Any] | None = None
