"""Token accounting for engines without a tokenizer (replay, gold): estimates, 4 characters a
token; the cached share is the prefix shared with the previous prompt, as a prefix cache would
serve it — so the append-only history shows up in the numbers even without a model."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from qcode.agent.contracts import Message, Usage

__all__ = ["CHARS_PER_TOKEN", "UsageEstimator"]

CHARS_PER_TOKEN = 4


class UsageEstimator:
    def __init__(self) -> None:
        self._previous_prompt = ""

    def measure(self, messages: Sequence[Message], completion: str) -> Usage:
        prompt = json.dumps(list(messages), sort_keys=True, default=str)
        shared = len(os.path.commonprefix([prompt, self._previous_prompt]))
        self._previous_prompt = prompt
        return Usage(
            prompt_tokens=len(prompt) // CHARS_PER_TOKEN,
            completion_tokens=max(1, len(completion) // CHARS_PER_TOKEN),
            cached_tokens=shared // CHARS_PER_TOKEN,
        )
