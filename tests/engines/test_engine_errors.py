"""Errors a user can act on: one line naming the fix, exit 2, before anything heavy starts."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from qcode.agent.engines import make_engine
from qcode.agent.engines.model_choice import ModelChoice
from qcode.agent.engines.vllm_setup import EnginePlan, classify_start_failure, model_config, require_vllm
from qcode.agent.exceptions import EngineError, UserError

from qcode.config import Settings, load_settings
from tests.e2e.helpers import run_qcode
from tests.engines.conftest import VLLM_WARNINGS

pytestmark = [pytest.mark.vllm, pytest.mark.filterwarnings(*VLLM_WARNINGS)]


def test_without_vllm_suggests_the_openai_engine_or_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm.platforms", None)  # import fails as if vLLM were absent
    with pytest.raises(UserError, match=r"not installed.*--engine openai.*qcode demo"):
        require_vllm()


def test_without_a_cuda_device_suggests_the_openai_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import vllm.platforms

    monkeypatch.setattr(vllm.platforms, "current_platform", SimpleNamespace(device_type=""), raising=False)
    with pytest.raises(UserError, match=r"no CUDA device.*--engine openai.*qcode demo"):
        require_vllm()


def test_uncached_weights_without_network_name_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(UserError) as caught:
        model_config("Qwen/Qwen3.6-27B")
    message = str(caught.value)
    assert "not in the Hugging Face cache" in message and str(tmp_path / "hub") in message
    assert "huggingface-cli download Qwen/Qwen3.6-27B" in message and "\n" not in message


def test_a_missing_model_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        model_config(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no config.json"):
        model_config(str(tmp_path / "empty"))


def test_out_of_memory_at_start_suggests_fp8_or_a_shorter_context() -> None:
    plan = EnginePlan(ModelChoice("Qwen/Qwen3.6-27B", ""), {}, 131072, "cuda")
    oom = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    kv = ValueError(
        "To serve at least one request with the models's max seq len (131072), (8.0 GiB KV cache "
        "is needed, which is larger than the available KV cache memory (3.2 GiB)."
    )
    for err in (oom, kv):
        found = classify_start_failure(err, plan)
        assert isinstance(found, UserError)
        assert "Qwen3.6-27B-FP8" in str(found) and "shorter context" in str(found)
    assert isinstance(classify_start_failure(RuntimeError("weird"), plan), EngineError)


def test_unknown_engine_and_bad_tool_choice_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="unknown engine"):
        make_engine("tgi", Settings())
    from qcode.agent.engines.vllm_engine import EngineOptions

    monkeypatch.setenv("QCODE_TOOL_CHOICE", "sometimes")
    with pytest.raises(UserError, match="bad value for 'tool_choice' from env"):
        EngineOptions.from_settings(load_settings({}, None).settings)
    monkeypatch.setenv("QCODE_TOOL_CHOICE", "required")
    monkeypatch.setenv("QCODE_MAX_ARGUMENT_CHARS", "100000")
    with pytest.raises(UserError, match="bad value for 'max_argument_chars' from env"):
        EngineOptions.from_settings(load_settings({}, None).settings)


@pytest.mark.docker
def test_cli_exits_2_with_one_line_when_the_weights_are_missing(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo({"a.py": "x = 1\n"})
    done = run_qcode(
        "fix",
        "anything",
        "--repo",
        str(repo),
        "--engine",
        "vllm",
        "--json",
        env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")},
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.startswith("qcode:")]
    assert len(lines) == 1 and "Hugging Face cache" in lines[0] and str(tmp_path / "hub") in lines[0]
