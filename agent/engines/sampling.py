"""Sampling profiles from the Qwen3.6 model card, and the per-value overrides in the settings.

A profile sets sampling only (thinking is its own setting): `coding` is the card's thinking mode
for precise coding, `general` its general thinking mode, `swe` what Qwen's own SWE-bench runs
used, `instruct` the card's values for thinking off (use it with `thinking = false`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from qcode.config import Settings

__all__ = ["PROFILES", "SAMPLING_KEYS", "Profile", "Sampling", "resolve_sampling"]

Profile = Literal["coding", "general", "swe", "instruct"]
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "presence_penalty")


class Sampling(BaseModel):
    """The values one engine request samples with; None leaves the engine's own default."""

    model_config = ConfigDict(frozen=True)

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    presence_penalty: float | None = None

    def for_vllm(self) -> dict[str, Any]:
        """Keyword arguments for vLLM's SamplingParams (unset values are left out)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def for_openai(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(standard request fields, extras for the body): `top_k` and `presence_penalty` go as
        extras, which a server that refuses them has dropped once (see the openai engine)."""
        values = self.for_vllm()
        standard: dict[str, Any] = {k: values[k] for k in ("temperature", "top_p") if k in values}
        extras: dict[str, Any] = {k: values[k] for k in ("top_k", "presence_penalty") if k in values}
        return standard, extras


PROFILES: dict[str, Sampling] = {
    "coding": Sampling(temperature=0.6, top_p=0.95, top_k=20, presence_penalty=0.0),
    "general": Sampling(temperature=1.0, top_p=0.95, top_k=20, presence_penalty=0.0),
    "swe": Sampling(temperature=1.0, top_p=0.95),
    "instruct": Sampling(temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5),
}


def resolve_sampling(settings: Settings) -> tuple[Sampling, dict[str, str]]:
    """The profile's values with each set override on top, and where each value came from."""
    profile = str(getattr(settings, "sampling_profile", "coding"))
    base = PROFILES[profile].model_dump()
    sources = {key: f"profile {profile}" for key in SAMPLING_KEYS}
    for key in SAMPLING_KEYS:
        value = getattr(settings, key, None)
        if value is not None:
            base[key], sources[key] = value, "setting"
    return Sampling(**base), sources
