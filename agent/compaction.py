"""Context budget: shorten old observations when the history nears the context limit.

Compaction is the one exception to the append-only history, so it is rare (only past a
threshold), explicit (a Compacted event records what was dropped) and visible to the model (a
note in place of each shortened observation, and a state summary after).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from qcode.agent.contracts import Message

__all__ = ["Changes", "apply_changes", "compact", "compaction_changes", "message_chars"]

Changes = dict[int, Message | None]
"""Per message index: its replacement, or None when it is removed."""

STUB = (
    "[compacted by qcode: {chars} characters of `{tool}` output dropped to fit the context; "
    "re-run the call if you need it again]"
)
_BULKY_ARGUMENTS = ("content", "old_text", "new_text")


def message_chars(messages: Sequence[Message]) -> int:
    return len(json.dumps(list(messages), default=str))


def compact(
    messages: Sequence[Message], keep_recent: int = 6, min_chars: int = 300, drop_old_turns: bool = False
) -> tuple[list[Message], list[dict[str, Any]]]:
    """Shorten tool outputs (and bulky call arguments) older than the last `keep_recent` tool results.

    The system prompt, the task, every assistant decision and the recent work stay whole. With
    `drop_old_turns` the old turns are removed instead, leaving one note in their place.
    Returns the new history and, per shortened message, what was dropped.
    """
    changes, dropped = compaction_changes(messages, keep_recent, min_chars, drop_old_turns)
    return apply_changes(messages, changes), dropped


def apply_changes(messages: Sequence[Message], changes: Changes) -> list[Message]:
    result = []
    for index, message in enumerate(messages):
        changed = changes.get(index, message)
        if changed is not None:
            result.append(changed)
    return result


def compaction_changes(
    messages: Sequence[Message], keep_recent: int = 6, min_chars: int = 300, drop_old_turns: bool = False
) -> tuple[Changes, list[dict[str, Any]]]:
    """What `compact` changes, per message index (the loop records it against the events' ids)."""
    tool_indexes = [i for i, m in enumerate(messages) if m.get("role") == "tool"]
    # Everything before the assistant turn that made the oldest recent tool result is old.
    boundary = tool_indexes[-keep_recent] if len(tool_indexes) > keep_recent else 0
    while boundary > 0 and messages[boundary].get("role") != "assistant":
        boundary -= 1
    if drop_old_turns:
        return _drop_turns(messages, boundary)
    changes: Changes = {}
    dropped: list[dict[str, Any]] = []
    for index, message in enumerate(messages[:boundary]):
        role, content = message.get("role"), str(message.get("content") or "")
        if role == "tool" and len(content) > min_chars:
            tool = str(message.get("name", "tool"))
            changes[index] = {**message, "content": STUB.format(chars=len(content), tool=tool)}
            dropped.append({"index": index, "tool": tool, "chars": len(content)})
        elif role == "assistant" and message.get("tool_calls"):
            shortened, chars = _shorten_arguments(message)
            if chars:
                changes[index] = shortened
                dropped.append({"index": index, "tool": "arguments", "chars": chars})
    return changes, dropped


def _shorten_arguments(message: Message) -> tuple[Message, int]:
    chars = 0
    calls = []
    for call in message["tool_calls"]:
        arguments = dict(call["function"]["arguments"])
        for key in _BULKY_ARGUMENTS:
            value = arguments.get(key)
            if isinstance(value, str) and len(value) > 2000:
                chars += len(value)
                arguments[key] = f"[{len(value)} characters compacted]"
        calls.append({**call, "function": {**call["function"], "arguments": arguments}})
    # A shortened call no longer matches the text it was generated as: render it from the calls.
    kept = {k: v for k, v in message.items() if k != "raw"} if chars else message
    return {**kept, "tool_calls": calls}, chars


def _drop_turns(messages: Sequence[Message], boundary: int) -> tuple[Changes, list[dict[str, Any]]]:
    """Replace every whole turn between the task (messages 0-1) and `boundary` with one note."""
    old = list(messages[2:boundary])
    if not old:
        return {}, []
    chars = message_chars(old)
    turns = sum(1 for m in old if m.get("role") == "assistant")
    note = {
        "role": "user",
        "content": f"[qcode removed {turns} earlier turns ({chars} characters) to fit the "
        "context; the plan and changed files follow in the next note]",
    }
    changes: Changes = {index: None for index in range(3, boundary)}
    changes[2] = note  # the note takes the first removed message's place
    return changes, [{"index": 2, "tool": "turns", "chars": chars, "turns": turns}]
