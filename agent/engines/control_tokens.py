"""Untrusted text is tokenized as text: a file, a command's output or an issue that holds the string
`<|im_end|>` must not end the turn (or open a fake system turn) in the model's prompt.

`tokenizer.encode(rendered, add_special_tokens=False)` turns every control-token string into the
control token, wherever it came from. So, before the chat template runs, each control-token string
inside the messages and tools is swapped for a placeholder no text can contain (a per-render random
nonce); the template's own control tokens are the only ones left in the rendered text. Encoding then
cuts the text at the placeholders: the pieces between them are encoded normally (the template's
control tokens stay control tokens) and each placeholder is encoded as the ordinary-text tokens of
the string it stands for.

The `openai` engine cannot do this (the server tokenizes), so there `break_control_strings` puts a
zero-width space after `<|`: a documented, visible exception to "observations are verbatim".
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Any

__all__ = ["ZERO_WIDTH", "ControlShield", "break_control_strings", "control_strings"]

ZERO_WIDTH = "\u200b"
_CONTROL_LIKE = re.compile(r"<\|(?=[A-Za-z_][\w.-]{0,64}\|>)")
"""The opening of anything shaped like a control token (`<|im_end|>`, `<|fim_prefix|>`, …)."""


def control_strings(tokenizer: Any) -> tuple[str, ...]:
    """The strings the tokenizer turns into control tokens: its special added tokens, longest first
    (so a string that contains another is replaced whole)."""
    found = {str(t) for t in getattr(tokenizer, "all_special_tokens", [])}
    for token in getattr(tokenizer, "added_tokens_decoder", {}).values():
        if getattr(token, "special", False):
            found.add(str(token.content))
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def break_control_strings(value: Any) -> Any:
    """`value` with a zero-width space after each control-token-shaped `<|` (strings, lists, dicts)."""
    if isinstance(value, str):
        return _CONTROL_LIKE.sub("<|" + ZERO_WIDTH, value) if "<|" in value else value
    if isinstance(value, list):
        return [break_control_strings(item) for item in value]
    if isinstance(value, dict):
        return {key: break_control_strings(item) for key, item in value.items()}
    return value


class ControlShield:
    """One render's placeholders: `hide` the control strings in the inputs, then `encode` the text."""

    def __init__(self, tokenizer: Any, controls: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.controls = tuple(controls)
        nonce = secrets.token_hex(8)
        self._placeholders = [f"\ue000{nonce}{i}\ue001" for i in range(len(self.controls))]
        self._literal = dict(zip(self._placeholders, self.controls, strict=True))
        self._split = (
            re.compile("(" + "|".join(map(re.escape, self._placeholders)) + ")") if controls else None
        )

    def hide(self, value: Any) -> Any:
        """`value` with every control string inside its strings replaced by its placeholder."""
        if isinstance(value, str):
            if not any(control in value for control in self.controls):
                return value
            for control, placeholder in zip(self.controls, self._placeholders, strict=True):
                value = value.replace(control, placeholder)
            return value
        if isinstance(value, list):
            return [self.hide(item) for item in value]
        if isinstance(value, dict):
            return {key: self.hide(item) for key, item in value.items()}
        return value

    def encode(self, text: str) -> list[int]:
        """Token ids of the rendered text: placeholders become their string's ordinary-text tokens."""
        if self._split is None:
            return list(self.tokenizer.encode(text, add_special_tokens=False))
        ids: list[int] = []
        for piece in self._split.split(text):
            if not piece:
                continue
            literal = self._literal.get(piece)
            if literal is None:
                ids += self.tokenizer.encode(piece, add_special_tokens=False)
            else:
                ids += self.tokenizer.encode(literal, add_special_tokens=False, split_special_tokens=True)
        return ids
