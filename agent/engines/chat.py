"""Message shapes shared by the engines: the loop's history → what a chat template or server wants."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from qcode.agent.contracts import Message
from qcode.agent.engines.control_tokens import break_control_strings
from qcode.agent.qwen_xml import THINK_CLOSE, split_reasoning

__all__ = ["answer_part", "for_chat_template", "for_openai"]

RAW = "raw"
"""An assistant message's key for the turn exactly as generated (see `contracts.assistant_message`)."""


def _arguments(call: dict[str, Any]) -> Any:
    function = call.get("function", call)
    return function.get("arguments", {})


def answer_part(raw: str) -> tuple[str, str]:
    """(reasoning, answer) of a generated turn: the answer as it followed `</think>\\n\\n`."""
    if THINK_CLOSE not in raw:
        return "", raw
    reasoning, rest = split_reasoning(raw)
    return reasoning, rest[2:] if rest.startswith("\n\n") else rest.lstrip("\n")


def for_chat_template(messages: Sequence[Message], *, verbatim: bool = False) -> list[Message]:
    """Tool-call arguments as mappings (Qwen's templates iterate them), everything else unchanged.

    `verbatim`: an assistant turn whose generated text is known is rendered as generated (its
    answer as content, no structured calls), so the next prompt extends the last one byte for
    byte: the template would re-render calls and spacing its own way (`tojson` spacing, `\\n\\n`
    before a call, `\\n` between calls) and every difference is a prefix-cache miss.
    """
    shaped: list[Message] = []
    for original in messages:
        raw = original.get(RAW) if original.get("role") == "assistant" else None
        message = {k: v for k, v in original.items() if k != RAW}
        if verbatim and isinstance(raw, str):
            reasoning, answer = answer_part(raw)
            shaped.append({"role": "assistant", "content": answer, "reasoning_content": reasoning})
            continue
        calls = message.get("tool_calls")
        if not calls:
            shaped.append(message)
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
    The server tokenizes, so control-token strings in the text are broken up (`control_tokens`).
    """
    shaped: list[Message] = []
    for message in messages:
        message = break_control_strings(message)
        out: dict[str, Any] = {
            k: v for k, v in message.items() if k != RAW and (k != "reasoning_content" or keep_reasoning)
        }
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
