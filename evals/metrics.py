"""Per-run counts taken from the loop's events: tool errors, recoveries, failed commands.

A tool error is an observation the loop produced for a bad call (malformed XML, unknown tool,
invalid arguments, a tool that refused). It is recovered when a later call succeeds: of the same
tool, or of any tool when the name itself was the problem. A shell command that exits non-zero
is not a tool error (running failing tests is part of the work); it is counted separately.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from qcode.agent.events import ObservationMade

__all__ = ["RunMetrics"]

_NAMELESS = {"malformed_call", "unknown_tool"}


@dataclass
class RunMetrics:
    """An EventBus subscriber."""

    observations: list[tuple[str, bool, str | None]] = field(default_factory=list)

    def __call__(self, event: object) -> None:
        if isinstance(event, ObservationMade):
            error = event.data.get("error")
            self.observations.append((event.name, event.ok, str(error) if error else None))

    @property
    def tool_errors(self) -> int:
        return sum(1 for _, ok, error in self.observations if not ok and error)

    @property
    def error_kinds(self) -> dict[str, int]:
        return dict(Counter(error for _, ok, error in self.observations if not ok and error))

    @property
    def failed_commands(self) -> int:
        return sum(1 for name, ok, error in self.observations if name == "shell" and not ok and not error)

    @property
    def recoveries(self) -> int:
        recovered = 0
        for index, (name, ok, error) in enumerate(self.observations):
            if ok or not error:
                continue
            later = self.observations[index + 1 :]
            if any(
                later_ok and (error in _NAMELESS or later_name == name) for later_name, later_ok, _ in later
            ):
                recovered += 1
        return recovered
