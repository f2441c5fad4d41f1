"""Message shapes shared by the engines: the loop's history → what a chat template or server wants."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from qcode.agent.contracts import Message

__all__ = ["for_chat_template", "for_openai"]


def _arguments(call: dict[str, Any]) -> Any:
    function = call.get("function", call)
    return function.get("arguments", {})


def for_chat_template(messages: Sequence[Message]) -> list[Message]:
    """Tool-call arguments as mappings (Qwen's templates iterate them), everything else unchanged."""
    shaped: list[Message] = []
    for message in messages:
        calls = message.get("tool_calls")
        if not calls:
            shaped.append(dict(message))
            continue
        fixed = []
        for call in calls:
            arguments = _arguments(call)
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except ValueError:
                    arguments = {"arguments": arguments}
            fixed.append({**call, "function": {**call.get("function", {}), "arguments": arguments}})
        shaped.append({**message, "tool_calls": fixed})
    return shaped


def for_openai(messages: Sequence[Message], *, keep_reasoning: bool) -> list[Message]:
    """OpenAI chat-completions shape: JSON-string arguments, string content.

    `reasoning_content` is sent back only when asked (vLLM's server feeds it to the chat template).
    """
    shaped: list[Message] = []
    for message in messages:
        out: dict[str, Any] = {k: v for k, v in message.items() if k != "reasoning_content" or keep_reasoning}
        if out.get("content") is None:
            out["content"] = ""
        if message.get("tool_calls"):
            out["tool_calls"] = [
                {
                    "id": call.get("id", f"call_{i}"),
                    "type": "function",
                    "function": {
                        "name": call.get("function", call)["name"],
                        "arguments": a
                        if isinstance(a := _arguments(call), str)
                        else json.dumps(a, ensure_ascii=False),
                    },
                }
                for i, call in enumerate(message["tool_calls"])
            ]
        if out.get("role") == "tool":
            out.pop("name", None)
        shaped.append(out)
    return shaped
