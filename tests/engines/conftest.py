"""The tiny random-weight Qwen3 model, built once per source version and cached between runs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import qcode.evals.tiny_model as tiny_model

# vLLM and torch emit Future/Deprecation/User warnings at import and shutdown; they are not ours.
VLLM_WARNINGS = ("ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning",
                 "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")


def tiny_model_folder() -> Path:
    """Cache key: the builder's own source, so a changed builder means a fresh model."""
    key = hashlib.sha256(Path(tiny_model.__file__).read_bytes()).hexdigest()[:12]
    root = Path(os.environ.get("QCODE_TEST_MODELS", Path.home() / ".cache" / "qcode" / "test-models"))
    return tiny_model.build_tiny_qwen3(root / f"tiny-qwen3-{key}")


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    return tiny_model_folder()
