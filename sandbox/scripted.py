"""A scripted sandbox: the fake of the Sandbox seam for loop-level tests and evals.

It answers each command from a script (exact command text → result) and records what ran. A
command the script does not know is answered exit 127, like a shell that has no such program, so
a test sees the surprise in the observation instead of a hang.
"""

from __future__ import annotations

from collections.abc import Mapping

from qcode.agent.contracts import ExecResult

__all__ = ["ScriptedSandbox"]


class ScriptedSandbox:
    """Fits agent.contracts.Sandbox."""

    def __init__(self, script: Mapping[str, ExecResult | str]) -> None:
        self.script = dict(script)
        """Command → its result; a plain string is that output with exit code 0."""
        self.commands: list[str] = []
        """Every command asked for, in order."""
        self.closed = False

    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        self.commands.append(command)
        answer = self.script.get(command)
        if answer is None:
            return ExecResult(exit_code=127, output=f"scripted sandbox: no answer for {command!r}")
        if isinstance(answer, str):
            return ExecResult(exit_code=0, output=answer)
        return answer

    def close(self) -> None:
        self.closed = True
