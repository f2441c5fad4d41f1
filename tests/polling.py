"""Waiting for a condition another process brings about: polled with a deadline, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], deadline_s: float, what: str) -> T:
    """Poll `check` until it returns a value (a condition to reach, not a timed sleep)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = check()
        if found is not None and found is not False:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {deadline_s:g}s waiting for {what}")
