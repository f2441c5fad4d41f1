"""The tiny random-weight Qwen3 model, built once per builder version and cached between runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from qcode.evals.tiny_model import cached_tiny_qwen3

# vLLM and torch emit Future/Deprecation/User warnings at import and shutdown; they are not ours.
VLLM_WARNINGS = (
    "ignore::FutureWarning",
    "ignore::DeprecationWarning",
    "ignore::UserWarning",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    return cached_tiny_qwen3()
