"""Splits a streamed model output into channels (reasoning, text, tool call) as it arrives.

The engines own the model's syntax: front doors get channelled deltas and never parse `<think>` or
`<tool_call>` themselves.
"""

from __future__ import annotations

from qcode.agent.contracts import Channel

__all__ = ["StreamSplitter", "split_whole"]

_SWITCHES: dict[Channel, dict[str, Channel]] = {
    # "</think>" in text: the chat template opened the reasoning in the prompt; what was already
    # sent as text stays text, but the tag itself is not shown.
    "text": {"<think>": "reasoning", "</think>": "text", "<tool_call>": "tool_call"},
    "reasoning": {"</think>": "text"},
    "tool_call": {"</tool_call>": "text"},
}


class StreamSplitter:
    """Feed it pieces; it returns (text, channel) pieces with the tags removed.

    A tag split across two pieces is held back until it is whole, so no partial tag leaks out.
    """

    def __init__(self, channel: Channel = "text") -> None:
        self.channel: Channel = channel
        self._pending = ""

    def feed(self, piece: str) -> list[tuple[str, Channel]]:
        buffer, out = self._pending + piece, []
        while True:
            switches = _SWITCHES[self.channel]
            found = [(buffer.find(tag), tag) for tag in switches if tag in buffer]
            if not found:
                break
            index, tag = min(found)
            if index:
                out.append((buffer[:index], self.channel))
            self.channel = switches[tag]
            buffer = buffer[index + len(tag) :]
        keep = _partial_tag(buffer, _SWITCHES[self.channel])
        self._pending = buffer[len(buffer) - keep :] if keep else ""
        if len(buffer) > keep:
            out.append((buffer[: len(buffer) - keep], self.channel))
        return out

    def flush(self) -> list[tuple[str, Channel]]:
        """What was held back as a possible tag, once the stream has ended."""
        pending, self._pending = self._pending, ""
        return [(pending, self.channel)] if pending else []


def split_whole(raw: str) -> list[tuple[str, Channel]]:
    """A whole output split by channel, as an engine would have streamed it (scripted engines)."""
    splitter = StreamSplitter()
    return splitter.feed(raw) + splitter.flush()


def _partial_tag(buffer: str, tags: dict[str, Channel]) -> int:
    """Length of the longest end of `buffer` that is the start of a tag."""
    best = 0
    for tag in tags:
        for size in range(min(len(tag) - 1, len(buffer)), best, -1):
            if buffer.endswith(tag[:size]):
                best = size
                break
    return best
