"""qcode's one exception tree.

Recoverable errors carry the text the model should read next; terminating ones end the run
with a one-line reason; `UserError` is bad input from the person at the keyboard (exit 2);
`GitError` is host-side git failing under qcode (exit 3).
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "QcodeError",
    "UserError",
    "RecoverableError",
    "ToolError",
    "TerminatingError",
    "LimitReached",
    "EngineError",
    "ReplayExhausted",
    "SandboxUnavailable",
    "GitError",
    "Interrupted",
    "ContextOverflow",
    "error_line",
]


class QcodeError(Exception):
    """Base of every error qcode raises on purpose."""


class UserError(QcodeError):
    """Bad input or environment: one line that names the fix. The CLI exits 2."""


class RecoverableError(QcodeError):
    """The model can fix this: the message becomes an observation."""


class ToolError(RecoverableError):
    """A tool refused or failed; `str(err)` is written for the model."""


class TerminatingError(QcodeError):
    """Ends the run with `status` and a one-line reason."""

    status: Literal["resolved", "unresolved", "error"] = "error"


class LimitReached(TerminatingError):
    """Steps, tokens or wall time ran out."""

    status = "unresolved"


class Interrupted(TerminatingError):
    """The person stopped the run (Esc in the TUI); the session stays usable."""

    status = "unresolved"


class EngineError(TerminatingError):
    """The engine could not produce a turn."""


class ContextOverflow(EngineError):
    """The prompt does not fit the engine's context; the loop compacts and retries once."""


class ReplayExhausted(EngineError):
    """A replay file has no more turns."""


class SandboxUnavailable(UserError):
    """Docker is missing, unreachable, or the sandbox image is not built."""


class GitError(QcodeError):
    """A host-side git operation failed; the message names the repository and git's own words.

    Not a `UserError`: a git failure in the middle of a run is not bad input (the CLI exits 3, not
    2). Checks of the user's input that use git (is this a repository?) raise UserError instead."""


def error_line(err: BaseException) -> str:
    """How a person reads an error: qcode's own say what to do (no class name in front); anything
    else is unexpected, and its class name helps a bug report."""
    if isinstance(err, QcodeError):
        return str(err)
    return f"{type(err).__name__}: {err}"
