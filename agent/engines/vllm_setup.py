"""Getting the embedded vLLM engine started, or failing with one line the user can act on."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qcode.agent.engines.model_choice import (
    GpuInfo,
    ModelChoice,
    choose_model,
    speculative_config,
)
from qcode.agent.exceptions import EngineError, UserError

if TYPE_CHECKING:
    from qcode.config import Settings

__all__ = ["EnginePlan", "classify_start_failure", "plan_engine", "quiet_vllm_logs", "require_vllm"]

NO_ENGINE_HINT = (
    "use --engine openai against an OpenAI-compatible server (e.g. `vllm serve` on a GPU box), "
    "or try `qcode demo`"
)


def quiet_vllm_logs() -> None:
    """vLLM logs to stdout by default, which would corrupt `--json`; send warnings and worse to stderr."""
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")


def require_vllm() -> str:
    """Import vLLM and return its device type (`cuda`, `cpu`, …); UserError when it cannot run here."""
    quiet_vllm_logs()
    try:
        from vllm.platforms import current_platform
    except ImportError:
        raise UserError(
            f"the vllm engine needs vLLM, which is not installed (pip install 'qcode[vllm]'); "
            f"{NO_ENGINE_HINT}"
        ) from None
    device = str(getattr(current_platform, "device_type", "") or "")
    if device not in ("cuda", "cpu", "rocm", "xpu", "tpu"):
        raise UserError(f"no CUDA device found for the vllm engine; {NO_ENGINE_HINT}")
    return device


def measure_gpu() -> GpuInfo | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return GpuInfo(memory_gib=props.total_memory / 1024**3, count=torch.cuda.device_count(), name=props.name)


def hf_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def model_config(model: str) -> dict[str, Any]:
    """The model's config.json: from a local folder, or the Hugging Face cache; UserError if neither."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        path = folder / "config.json"
        if not path.is_file():
            raise UserError(
                f"{folder} has no config.json; --model must be a model folder or a Hugging Face name"
            )
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return config
    if model.startswith((".", "/", "~")):
        raise UserError(
            f"model folder {model} does not exist; pass --model with a model folder or a Hugging Face name"
        )
    downloaded: dict[str, Any] = json.loads(
        Path(_cached_or_download(model, "config.json")).read_text(encoding="utf-8")
    )
    return downloaded


def _cached_or_download(model: str, filename: str) -> str:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return str(hf_hub_download(model, filename, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    try:
        return str(hf_hub_download(model, filename, etag_timeout=5))
    except Exception as err:  # offline, DNS, proxy, 401 …: all mean "cannot fetch it from here"
        raise UserError(
            f"the weights of {model} are not in the Hugging Face cache ({hf_cache_dir()}) and could not be "
            f"downloaded ({type(err).__name__}); download them where there is network "
            f"(`huggingface-cli download {model}`) into that cache, or pass --model FOLDER"
        ) from None


@dataclass(frozen=True)
class EnginePlan:
    """Everything decided before vLLM starts: the weights, why, and the engine arguments."""

    choice: ModelChoice
    engine_kwargs: dict[str, Any]
    max_model_len: int
    device: str
    notices: tuple[str, ...] = ()
    """One-line facts for the session to show at start (engine settings the user should know)."""


def plan_engine(settings: Settings, device: str) -> EnginePlan:
    """Choose weights and engine arguments from the settings and the measured hardware."""
    on_gpu = device != "cpu"
    max_len = int(settings.max_model_len)
    utilization = float(settings.gpu_memory_utilization)
    tensor_parallel = int(settings.tensor_parallel_size)
    choice = choose_model(
        settings.model,
        measure_gpu() if on_gpu else None,
        utilization=utilization,
        max_model_len=max_len,
        tensor_parallel_size=tensor_parallel,
    )
    config = model_config(choice.model)
    text_config = config.get("text_config", config)
    native = int(text_config.get("max_position_embeddings") or max_len)
    max_len = min(max_len, native)
    kwargs: dict[str, Any] = {
        "model": str(local) if (local := Path(choice.model).expanduser()).is_dir() else choice.model,
        "max_model_len": max_len,
        "gpu_memory_utilization": utilization,
        "tensor_parallel_size": tensor_parallel,
        "enable_prefix_caching": True,
        "enforce_eager": not on_gpu,
        "disable_log_stats": True,
        "structured_outputs_config": {"backend": "xgrammar"},
        "speculative_config": speculative_config(
            int(settings.mtp_tokens), on_gpu=on_gpu, model_config=config
        ),
    }
    seed = settings.seed
    if seed is not None:
        kwargs["seed"] = int(seed)
    notices = hybrid_settings(text_config, kwargs, engine_takes("mamba_cache_mode"))
    if kwargs["speculative_config"] and bool(getattr(settings, "constrained_tool_calls", True)):
        notices.append(MTP_NOTICE.format(tokens=int(settings.mtp_tokens)))
    return EnginePlan(
        choice=choice, engine_kwargs=kwargs, max_model_len=max_len, device=device, notices=tuple(notices)
    )


MTP_NOTICE = (
    "MTP speculative decoding (mtp_tokens={tokens}) runs with grammar-constrained tool calls; upstream "
    "reports rejected tokens and garbage after a few turns with both on (vllm#46249, #36872): if turns "
    "go wrong, set mtp_tokens = 0"
)


def is_hybrid(text_config: dict[str, Any]) -> bool:
    """A model with linear-attention (Gated DeltaNet / Mamba) layers, such as Qwen3.6."""
    layer_types = text_config.get("layer_types") or []
    return "linear_attention" in layer_types or "mamba" in layer_types


def engine_takes(argument: str) -> bool:
    """Whether the installed vLLM's engine arguments include `argument`."""
    try:
        from vllm import AsyncEngineArgs
    except ImportError:
        return False
    return argument in getattr(AsyncEngineArgs, "__dataclass_fields__", {})


def hybrid_settings(text_config: dict[str, Any], kwargs: dict[str, Any], has_align: bool) -> list[str]:
    """Prefix caching for hybrid models, stated explicitly: vLLM caches their prefixes only in
    `mamba_cache_mode="align"`; older versions turn prefix caching off for them (0 % hits,
    vllm#51198, #51250)."""
    if not is_hybrid(text_config):
        return []
    if has_align:
        kwargs["mamba_cache_mode"] = "align"
        return []
    return [
        "this vLLM has no mamba_cache_mode, so it does not cache prefixes of hybrid models like "
        "Qwen3.6 (every step recomputes the whole prompt); install a newer one: pip install 'qcode[vllm]'"
    ]


_MEMORY_SIGNS = (
    "out of memory",
    "no available memory for the cache blocks",
    "kv cache is needed",
    "larger than the available kv cache",
    "insufficient memory",
    "cudaerrormemoryallocation",
)


def classify_start_failure(err: BaseException, plan: EnginePlan) -> UserError | EngineError:
    """Turn a failed engine start into one line naming the fix."""
    text = f"{err}".lower()
    model = plan.choice.model
    if any(sign in text for sign in _MEMORY_SIGNS) or "engine core initialization failed" in text:
        return UserError(
            f"vLLM could not start {model} (max_model_len {plan.max_model_len}): {_first_line(err)}. If it "
            "ran out of GPU memory, use the FP8 weights (--model Qwen/Qwen3.6-27B-FP8), a shorter context "
            "(QCODE_MAX_MODEL_LEN=32768) or more GPUs (tensor_parallel_size); the log above has the cause"
        )
    return EngineError(f"vLLM could not start {model}: {_first_line(err)}")


def _first_line(err: BaseException) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return (lines[0] if lines else type(err).__name__)[:300]
