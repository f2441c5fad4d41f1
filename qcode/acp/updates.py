"""qcode's events → ACP session updates. Pure: one function from a stream-json record (the same
dict a live event becomes, and a trajectory line is) to the updates an editor shows.

Live sessions feed it the bus's events; a loaded session replays its trajectory through it, so an
editor sees the same conversation either way.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from acp import (
    plan_entry,
    start_tool_call,
    text_block,
    tool_content,
    tool_diff_content,
    update_agent_message_text,
    update_agent_thought_text,
    update_plan,
    update_tool_call,
    update_user_message_text,
)
from acp.schema import ToolCallLocation, ToolKind

__all__ = ["OUTPUT_LIMIT", "UpdateMapper", "record_updates", "tool_kind"]

OUTPUT_LIMIT = 8000
"""Characters of a tool's result sent to the editor (the model saw at most the tool's own cap)."""
_KINDS: dict[str, ToolKind] = {
    "read_file": "read",
    "list_files": "read",
    "git_diff": "read",
    "search": "search",
    "find_symbol": "search",
    "references": "search",
    "edit_file": "edit",
    "write_file": "edit",
    "shell": "execute",
    "update_plan": "think",
}
_PLAN_STATUS: dict[str, Literal["pending", "in_progress", "completed"]] = {
    "pending": "pending",
    "in_progress": "in_progress",
    "done": "completed",
    "failed": "pending",  # ACP has no failed status: a failed step is still to do (the planner revises it)
}


class UpdateMapper:
    """`record_updates` with memory. The model's call ids (`call_0`, …) repeat every turn, while an
    ACP tool call id must be unique in the session: each call gets its own. An observation's diff
    needs its call's arguments, which only the `tool_call` record has."""

    def __init__(self, repo: Path, replay: bool = False) -> None:
        self.repo, self.replay = repo, replay
        self._prefix = secrets.token_hex(3)  # a loaded session's history and its new calls differ
        self._count = 0
        self._open: dict[str, tuple[str, dict[str, Any]]] = {}
        """The model's call id → (the ACP id, the arguments), until its observation."""

    def acp_id(self, call_id: str) -> str:
        """The ACP id of the latest call with this id (a permission request is about it)."""
        return self._open[call_id][0] if call_id in self._open else call_id

    def __call__(self, record: dict[str, Any]) -> list[Any]:
        kind = record.get("type")
        if kind == "tool_call":
            self._count += 1
            if len(self._open) >= 256:  # one turn's calls at a time; bounded for a broken trajectory
                self._open.clear()
            ours = f"{self._prefix}-{self._count}"
            self._open[record["call_id"]] = (ours, record.get("arguments") or {})
            record = {**record, "call_id": ours}
        elif kind == "observation":
            ours, arguments = self._open.pop(record.get("call_id", ""), (record.get("call_id", ""), {}))
            record = {**record, "call_id": ours, "arguments": arguments}
        return record_updates(record, self.repo, self.replay)


def tool_kind(name: str) -> ToolKind:
    return _KINDS.get(name, "other")


def record_updates(record: dict[str, Any], repo: Path, replay: bool = False) -> list[Any]:
    """The ACP updates for one record; `repo` is the user's checkout (locations point there).
    `replay`: a loaded session's history, where whole turns stand in for the streamed deltas."""
    kind = record.get("type")
    if kind == "delta":
        if record.get("channel") == "reasoning":
            return [update_agent_thought_text(record["text"])]
        return [update_agent_message_text(record["text"])] if record.get("channel") == "text" else []
    if kind == "session_started" and replay:
        return [update_user_message_text(record.get("task", ""))]
    if kind == "turn" and replay:
        updates: list[Any] = []
        if record.get("reasoning"):
            updates.append(update_agent_thought_text(record["reasoning"]))
        if record.get("text"):
            updates.append(update_agent_message_text(record["text"]))
        return updates
    if kind == "tool_call":
        return [_started(record, repo)]
    if kind == "observation":
        return [_finished(record, repo)]
    if kind == "plan_updated":
        return [update_plan(plan_entry(s["step"], status=_PLAN_STATUS[s["status"]]) for s in record["plan"])]
    if kind == "notice" and record.get("level") in ("warning", "error"):
        return [update_agent_message_text(f"\n[qcode {record['level']}] {record['text']}\n")]
    return []


def _started(record: dict[str, Any], repo: Path) -> Any:
    name, arguments = record["name"], record.get("arguments") or {}
    return start_tool_call(
        record["call_id"],
        _title(name, arguments),
        kind=tool_kind(name),
        status="pending",
        locations=_locations(arguments, repo),
        raw_input=arguments,
    )


def _finished(record: dict[str, Any], repo: Path) -> Any:
    text = str(record.get("text", ""))
    clipped = text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT] + "\n… (cut for the editor)"
    content: list[Any] = [tool_content(text_block(clipped))]
    diff = _diff(record, repo)
    if diff is not None:
        content.insert(0, diff)
    return update_tool_call(
        record["call_id"], status="completed" if record.get("ok") else "failed", content=content
    )


def _diff(record: dict[str, Any], repo: Path) -> Any:
    """An edit as ACP's diff content, from the call's own arguments (kept on the observation's
    tool_call record by the caller as `arguments`)."""
    arguments = record.get("arguments") or {}
    path = arguments.get("path")
    full = _inside(repo, path) if isinstance(path, str) else None
    if not record.get("ok") or full is None:
        return None
    if record["name"] == "edit_file":
        return tool_diff_content(full, str(arguments.get("new_text", "")), str(arguments.get("old_text", "")))
    if record["name"] == "write_file":
        return tool_diff_content(full, str(arguments.get("content", "")))
    return None


def _inside(repo: Path, path: str) -> str | None:
    """The absolute path in the user's checkout, or None when the model's path leaves it (computed
    without touching the file system: the location is only shown)."""
    root = os.path.normpath(repo)
    full = os.path.normpath(os.path.join(root, path))
    return full if full.startswith(root + os.sep) else None


def _locations(arguments: dict[str, Any], repo: Path) -> list[ToolCallLocation] | None:
    path = arguments.get("path")
    full = _inside(repo, path) if isinstance(path, str) and path else None
    if full is None:
        return None
    line = arguments.get("start_line")
    return [ToolCallLocation(path=full, line=line if isinstance(line, int) and line >= 0 else None)]


def _title(name: str, arguments: dict[str, Any]) -> str:
    if name == "shell":
        return f"shell: {str(arguments.get('command', ''))[:120]}"
    if isinstance(arguments.get("path"), str):
        return f"{name} {arguments['path']}"
    if isinstance(arguments.get("pattern"), str):
        return f"{name} {arguments['pattern'][:80]}"
    return name
