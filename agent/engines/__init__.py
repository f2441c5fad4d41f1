"""Engines turn a conversation into the model's next turn: `replay:FILE`, `vllm`, `openai`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qcode.agent.contracts import Engine
from qcode.agent.exceptions import UserError

if TYPE_CHECKING:
    from qcode.config import Settings

__all__ = ["make_engine"]


def make_engine(spec: str, settings: Settings) -> Engine:
    """Build the engine named by `spec` (`vllm`, `openai` or `replay:FILE`)."""
    kind, _, argument = spec.partition(":")
    if kind == "replay":
        from qcode.agent.engines.replay import ReplayEngine

        if not argument:
            raise UserError("--engine replay needs a file: --engine replay:PATH/TO/turns.jsonl")
        return ReplayEngine(Path(argument).expanduser())
    if kind in ("vllm", "openai"):
        raise UserError(
            f"the {kind} engine is not available in this build; use --engine replay:FILE or try `qcode demo`"
        )
    raise UserError(f"unknown engine {spec!r}; use vllm, openai or replay:FILE")
