"""Engine errors the loop can act on."""

from __future__ import annotations

from qcode.agent.exceptions import ContextOverflow

__all__ = ["ContextLengthExceeded"]


class ContextLengthExceeded(ContextOverflow):
    """The prompt does not fit the model's context; the loop should compact the history and retry.

    Raised before anything is generated, so nothing is lost and the engine stays usable.
    """

    def __init__(self, prompt_tokens: int, max_model_len: int, reserve: int) -> None:
        self.prompt_tokens, self.max_model_len, self.reserve = prompt_tokens, max_model_len, reserve
        super().__init__(
            f"the prompt has {prompt_tokens} tokens; with {reserve} kept for the answer it does "
            f"not fit the context of {max_model_len} tokens (compact the history or raise "
            "max_model_len)"
        )
