"""Stuck detection: repeated identical actions, repeated identical errors, action cycles.

Pure bookkeeping over (action, outcome) pairs; what to do about it lives in `recovery.py`.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Action", "StuckDetector", "StuckSignal", "action_key", "error_key"]

Kind = Literal["repeated_action", "repeated_error", "cycle"]


@dataclass(frozen=True)
class Action:
    step: int
    key: str
    """Tool name + canonical arguments: equal keys are the same action."""
    ok: bool
    error: str
    """Normalised error text ('' when ok): equal errors despite different actions count too."""


@dataclass(frozen=True)
class StuckSignal:
    kind: Kind
    detail: str
    since_step: int
    """The step of the first action of the repetition: work before it was still progress."""


def action_key(name: str, arguments: dict[str, Any]) -> str:
    return f"{name}:{json.dumps(arguments, sort_keys=True, default=str)}"


_VOLATILE = re.compile(r"0x[0-9a-f]+|\d+(\.\d+)?s\b|\b\d{4,}\b")


def error_key(text: str) -> str:
    """The first lines of an error, with addresses, durations and long numbers masked."""
    head = "\n".join(text.strip().splitlines()[:3])[:300]
    return _VOLATILE.sub("#", head)


class StuckDetector:
    def __init__(self, repeats: int = 3, window: int = 12) -> None:
        self.repeats = repeats
        self._recent: deque[Action] = deque(maxlen=window)

    def record(self, action: Action) -> StuckSignal | None:
        self._recent.append(action)
        signal = self._repeated_action() or self._repeated_error() or self._cycle()
        if signal is not None:
            self._recent.clear()  # the same repetition must not fire again on the next call
        return signal

    def _tail(self, n: int) -> list[Action]:
        return list(self._recent)[-n:] if len(self._recent) >= n else []

    def _repeated_action(self) -> StuckSignal | None:
        tail = self._tail(self.repeats)
        if tail and len({a.key for a in tail}) == 1:
            name = tail[0].key.split(":", 1)[0]
            return StuckSignal(
                "repeated_action", f"the same `{name}` call {self.repeats} times in a row", tail[0].step
            )
        return None

    def _repeated_error(self) -> StuckSignal | None:
        tail = self._tail(self.repeats)
        if tail and all(not a.ok for a in tail) and len({a.error for a in tail}) == 1:
            return StuckSignal(
                "repeated_error",
                f"the same error {self.repeats} times in a row: {tail[0].error.splitlines()[0][:120]}",
                tail[0].step,
            )
        return None

    def _cycle(self) -> StuckSignal | None:
        keys = [a.key for a in self._recent]
        for period in (2, 3):
            span = period * self.repeats
            if len(keys) < span:
                continue
            tail = keys[-span:]
            if len(set(tail[:period])) == period and all(tail[i] == tail[i % period] for i in range(span)):
                names = [k.split(":", 1)[0] for k in tail[:period]]
                return StuckSignal(
                    "cycle",
                    f"a cycle of {' → '.join(names)} repeated {self.repeats} times",
                    list(self._recent)[-span].step,
                )
        return None
