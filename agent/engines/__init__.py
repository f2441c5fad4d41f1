"""Engines turn a conversation into the model's next turn: `vllm`, `openai`, `replay:FILE`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from qcode.agent.contracts import Engine
from qcode.agent.engines.accelerator import require_accelerator
from qcode.agent.exceptions import UserError

if TYPE_CHECKING:
    from qcode.config import Settings

__all__ = ["make_engine", "preflight"]

log = logging.getLogger(__name__)


def make_engine(spec: str, settings: Settings, *, warm: bool = False) -> Engine:
    """Build the engine named by `spec` (`vllm`, `openai` or `replay:FILE`).

    `vllm` runs the model in-process (`settings.model` is a Hugging Face name or a local folder),
    or in the warm engine process when `settings.engine_daemon` says so (unset: `warm`, the front
    door's default); `openai` talks to any OpenAI-compatible server at `settings.openai_base_url`.
    """
    kind, _, argument = spec.partition(":")
    log.info("engine %s: starting", spec)
    if kind == "replay":
        from qcode.agent.engines.replay import ReplayEngine

        if not argument:
            raise UserError("--engine replay needs a file: --engine replay:PATH/TO/turns.jsonl")
        return ReplayEngine(Path(argument).expanduser())
    if kind == "vllm" and not argument:
        require_accelerator()  # no GPU: say so before vLLM and torch take seconds to load
        if settings.engine_daemon if settings.engine_daemon is not None else warm:
            from qcode.agent.engines.warm import WarmEngine

            return WarmEngine(settings)
        from qcode.agent.engines.vllm_engine import VllmEngine

        return VllmEngine(settings)
    if kind == "openai" and not argument:
        from qcode.agent.engines.openai_engine import OpenAIEngine

        return OpenAIEngine(settings)
    raise UserError(f"unknown engine {spec!r}; use vllm, openai or replay:FILE")


def preflight(spec: str) -> None:
    """The engine's cheap checks (no heavy import), run before anything else is set up."""
    if spec == "vllm":
        require_accelerator()
