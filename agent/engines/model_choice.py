"""Pure decisions for the embedded engine: which weights, speculative decoding, engine options.

No I/O here: the caller measures the GPU and passes numbers in, so every branch is unit-tested
without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_MODEL",
    "FP8_MODEL",
    "GpuInfo",
    "ModelChoice",
    "choose_model",
    "kv_bytes_per_token",
    "speculative_config",
]

DEFAULT_MODEL = "Qwen/Qwen3.6-27B"
FP8_MODEL = "Qwen/Qwen3.6-27B-FP8"
GIB = 1024**3
WEIGHTS_GIB = {DEFAULT_MODEL: 55.6 * 1e9 / GIB, FP8_MODEL: 29.5 * 1e9 / GIB}
"""Weight sizes (BF16 ≈ 55.6 GB; FP8 with block-128 scales ≈ 29.5 GB)."""
RUNTIME_OVERHEAD_GIB = 4.0
"""Activations, CUDA graphs and the sampler's buffers, roughly, for one 27B engine."""
USEFUL_CONTEXT_TOKENS = 65_536
"""A KV cache smaller than this (or than max_model_len, if smaller) is not useful for agent work."""
# Qwen3.6-27B: 16 of its 64 layers are full attention (the rest Gated DeltaNet, constant state),
# 4 KV heads of dim 256, K and V, 2 bytes each.
ATTENTION_LAYERS, KV_HEADS, HEAD_DIM = 16, 4, 256


def kv_bytes_per_token(dtype_bytes: int = 2) -> int:
    return ATTENTION_LAYERS * KV_HEADS * HEAD_DIM * 2 * dtype_bytes


@dataclass(frozen=True)
class GpuInfo:
    """What the caller measured: memory of one device and how many the engine may use."""

    memory_gib: float
    count: int = 1
    name: str = "GPU"


@dataclass(frozen=True)
class ModelChoice:
    model: str
    reason: str
    """One line for a Notice: which weights and why."""


def choose_model(
    requested: str,
    gpu: GpuInfo | None,
    *,
    utilization: float,
    max_model_len: int,
    tensor_parallel_size: int = 1,
) -> ModelChoice:
    """Keep BF16 when it fits with a useful KV cache; otherwise switch the default model to FP8.

    Only the default model is switched: a model the user named (or a local folder) is theirs.
    """
    if requested != DEFAULT_MODEL:
        return ModelChoice(requested, f"using {requested} as configured")
    if gpu is None:
        return ModelChoice(requested, f"using {requested} (no GPU measured; not choosing weights by memory)")
    devices = max(1, min(tensor_parallel_size, gpu.count))
    usable = gpu.memory_gib * devices * utilization
    wanted_kv = kv_bytes_per_token() * min(max_model_len, USEFUL_CONTEXT_TOKENS) / GIB
    room = {m: usable - w - RUNTIME_OVERHEAD_GIB for m, w in WEIGHTS_GIB.items()}
    where = f"{devices}× {gpu.name} {gpu.memory_gib:.0f} GiB at {utilization:.0%}"
    if room[DEFAULT_MODEL] >= wanted_kv:
        return ModelChoice(
            DEFAULT_MODEL,
            f"using {DEFAULT_MODEL} (BF16): {where} leaves {room[DEFAULT_MODEL]:.0f} GiB for the KV cache",
        )
    reason = (
        f"using {FP8_MODEL}: BF16 weights ({WEIGHTS_GIB[DEFAULT_MODEL]:.0f} GiB) leave only "
        f"{max(room[DEFAULT_MODEL], 0):.0f} GiB of {where} for the KV cache, "
        f"{wanted_kv:.0f} GiB wanted"
    )
    if room[FP8_MODEL] < wanted_kv:
        reason += (
            f"; even FP8 leaves only {max(room[FP8_MODEL], 0):.0f} GiB — set a shorter "
            "max_model_len or more GPUs (tensor_parallel_size)"
        )
    return ModelChoice(FP8_MODEL, reason)


def speculative_config(
    mtp_tokens: int, *, on_gpu: bool, model_config: dict[str, Any]
) -> dict[str, Any] | None:
    """MTP speculative decoding when asked for, on a GPU, for weights that carry MTP layers."""
    if mtp_tokens <= 0 or not on_gpu:
        return None
    text = model_config.get("text_config", model_config)
    if not (text.get("mtp_num_hidden_layers") or text.get("num_nextn_predict_layers")):
        return None
    return {"method": "mtp", "num_speculative_tokens": mtp_tokens}
