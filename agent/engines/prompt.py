"""The prompt an embedded engine sends: the model's own chat template, then its tokenizer.

Past turns are rendered as generated (`for_chat_template(verbatim=True)`), and control-token
strings in any message or tool text are tokenized as ordinary text (`ControlShield`), so what the
model sees is what qcode means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qcode.agent.contracts import Message
from qcode.agent.engines.chat import for_chat_template
from qcode.agent.engines.control_tokens import ControlShield, control_strings

__all__ = ["render_prompt"]


def render_prompt(
    tokenizer: Any,
    messages: Sequence[Message],
    tools: Sequence[dict[str, Any]],
    *,
    thinking: bool = True,
    preserve_thinking: bool = True,
    controls: Sequence[str] | None = None,
) -> list[int]:
    """Token ids of the next prompt (generation prompt included)."""
    shield = ControlShield(tokenizer, control_strings(tokenizer) if controls is None else controls)
    text = tokenizer.apply_chat_template(
        shield.hide(for_chat_template(messages, verbatim=True)),
        tools=shield.hide(list(tools)) or None,
        tokenize=False,
        add_generation_prompt=True,
        enable_thinking=thinking,
        preserve_thinking=preserve_thinking,
    )
    return shield.encode(text)
