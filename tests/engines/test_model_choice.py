"""The GPU-only decisions (FP8 or BF16, MTP) and option reading, without a GPU."""

from __future__ import annotations

import pytest
from qcode.agent.engines.model_choice import (
    DEFAULT_MODEL,
    FP8_MODEL,
    GpuInfo,
    choose_model,
    speculative_config,
)


def test_one_80gb_gpu_keeps_bf16_and_says_why() -> None:
    choice = choose_model(DEFAULT_MODEL, GpuInfo(80.0, name="H100"), utilization=0.9, max_model_len=131072)
    assert choice.model == DEFAULT_MODEL
    assert "BF16" in choice.reason and "H100" in choice.reason and "KV cache" in choice.reason


@pytest.mark.parametrize("memory", [48.0, 40.0, 24.0 * 2])
def test_smaller_gpu_switches_to_fp8(memory: float) -> None:
    choice = choose_model(DEFAULT_MODEL, GpuInfo(memory), utilization=0.9, max_model_len=131072)
    assert choice.model == FP8_MODEL
    assert "BF16 weights" in choice.reason and "KV cache" in choice.reason


def test_tensor_parallel_pools_memory_back_to_bf16() -> None:
    one = choose_model(DEFAULT_MODEL, GpuInfo(48.0, count=2), utilization=0.9, max_model_len=131072)
    two = choose_model(
        DEFAULT_MODEL, GpuInfo(48.0, count=2), utilization=0.9, max_model_len=131072, tensor_parallel_size=2
    )
    assert (one.model, two.model) == (FP8_MODEL, DEFAULT_MODEL)


def test_low_utilization_can_tip_an_80gb_gpu_to_fp8() -> None:
    choice = choose_model(DEFAULT_MODEL, GpuInfo(80.0), utilization=0.7, max_model_len=131072)
    assert choice.model == FP8_MODEL


def test_too_small_even_for_fp8_says_what_to_change() -> None:
    choice = choose_model(DEFAULT_MODEL, GpuInfo(24.0), utilization=0.9, max_model_len=131072)
    assert choice.model == FP8_MODEL and "shorter max_model_len" in choice.reason


def test_a_named_model_or_folder_is_never_switched() -> None:
    for model in ("Qwen/Qwen3-8B", "/models/tiny"):
        assert choose_model(model, GpuInfo(16.0), utilization=0.9, max_model_len=8192).model == model


def test_no_gpu_measured_keeps_the_request() -> None:
    assert choose_model(DEFAULT_MODEL, None, utilization=0.3, max_model_len=8192).model == DEFAULT_MODEL


def test_mtp_only_on_gpu_and_only_for_weights_with_mtp_layers() -> None:
    qwen36 = {"text_config": {"mtp_num_hidden_layers": 1}}
    expected = {"method": "mtp", "num_speculative_tokens": 2}
    assert speculative_config(2, on_gpu=True, model_config=qwen36) == expected
    assert speculative_config(2, on_gpu=False, model_config=qwen36) is None
    assert speculative_config(0, on_gpu=True, model_config=qwen36) is None
    assert speculative_config(2, on_gpu=True, model_config={"num_hidden_layers": 2}) is None
