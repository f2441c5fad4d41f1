"""Engine arguments for hybrid models (Qwen3.6): align-mode prefix caching, and the MTP notice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.agent.engines.vllm_setup import engine_takes, hybrid_settings, plan_engine

from qcode.config import Settings

HYBRID = {
    "architectures": ["Qwen3_5ForConditionalGeneration"],
    "text_config": {
        "layer_types": ["linear_attention"] * 3 + ["full_attention"],
        "max_position_embeddings": 262144,
        "mtp_num_hidden_layers": 1,
    },
}
DENSE = {"architectures": ["Qwen3ForCausalLM"], "max_position_embeddings": 32768}


def model_folder(tmp_path: Path, config: dict[str, object]) -> Path:
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


@pytest.mark.vllm
def test_the_installed_vllm_takes_align_mode() -> None:
    assert engine_takes("mamba_cache_mode")
    assert not engine_takes("no_such_engine_argument")


@pytest.mark.vllm
def test_hybrid_models_cache_prefixes_in_align_mode(tmp_path: Path) -> None:
    plan = plan_engine(Settings(model=str(model_folder(tmp_path, HYBRID)), mtp_tokens=0), "cuda")
    assert plan.engine_kwargs["enable_prefix_caching"] is True
    assert plan.engine_kwargs["mamba_cache_mode"] == "align"
    assert plan.notices == ()


def test_dense_models_get_no_mamba_setting(tmp_path: Path) -> None:
    plan = plan_engine(Settings(model=str(model_folder(tmp_path, DENSE))), "cpu")
    assert "mamba_cache_mode" not in plan.engine_kwargs and plan.notices == ()


def test_an_old_vllm_is_named_in_a_notice() -> None:
    kwargs: dict[str, object] = {}
    notices = hybrid_settings(HYBRID["text_config"], kwargs, has_align=False)  # type: ignore[arg-type]
    assert kwargs == {} and "does not cache prefixes of hybrid models" in notices[0]


@pytest.mark.parametrize(
    ("constrained", "mtp", "warned"), [(True, 2, True), (False, 2, False), (True, 0, False)]
)
def test_mtp_with_constrained_decoding_names_the_fallback(
    tmp_path: Path, constrained: bool, mtp: int, warned: bool
) -> None:
    settings = Settings(
        model=str(model_folder(tmp_path, HYBRID)), mtp_tokens=mtp, constrained_tool_calls=constrained
    )
    plan = plan_engine(settings, "cuda")
    assert bool(plan.engine_kwargs["speculative_config"]) == (mtp > 0)
    notes = [n for n in plan.notices if "MTP" in n]
    assert bool(notes) == warned
    if warned:
        assert "set mtp_tokens = 0" in notes[0] and "vllm#46249" in notes[0] and "#36872" in notes[0]
