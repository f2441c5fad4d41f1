"""A token listener that stops listening part-way, as the loop does when Esc is pressed mid-generation."""

from __future__ import annotations

__all__ = ["StopListening", "StoppingListener"]


class StopListening(Exception):
    """Raised from the token callback, like the loop's Interrupted."""


class StoppingListener:
    """Collects streamed pieces and raises StopListening on the `after`-th one."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.pieces: list[str] = []

    def __call__(self, text: str, channel: str = "text") -> None:
        self.pieces.append(text)
        if len(self.pieces) == self.after:
            raise StopListening
