"""Effective configuration and where each value came from.

Precedence, highest first: CLI flag > `QCODE_*` env > the repo's `.qcode.toml` or
`[tool.qcode]` in its pyproject.toml > the user config file > defaults.

A repository is untrusted input: its config may tune the run (steps, verify command, thinking)
but may not weaken the sandbox, point the engine elsewhere or move files on the host.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from qcode.agent.exceptions import UserError
from qcode.agent.sizes import parse_size

__all__ = ["Settings", "SourcedSettings", "load_settings", "user_config_path", "REPO_SETTABLE"]


def _state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "qcode"


class Settings(BaseModel):
    """Everything a run can be tuned with."""

    engine: str = "vllm"
    """`vllm` (embedded), `openai` (any OpenAI-compatible server) or `replay:FILE`."""
    model: str = "Qwen/Qwen3.6-27B"
    """Model name or local folder for the vllm engine; model name for the openai engine."""
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    """Where the openai engine sends requests."""
    openai_api_key: SecretStr = SecretStr("EMPTY")
    """Key for the openai engine. Never shown, never enters the sandbox or the trajectory."""
    max_steps: int = Field(50, ge=1)
    """Model calls per run, the planner's included."""
    plan_first: bool = True
    """Planner–executor phases: a run without a plan starts with read-only tools until
    `update_plan` records one; a failed step or a stuck episode plans again. Off: one phase."""
    max_tokens: int = Field(4_000_000, ge=1)
    """Prompt plus completion tokens per run."""
    max_wall_seconds: float = Field(3600.0, gt=0)
    """Wall-clock limit per run."""
    command_timeout: float = Field(120.0, gt=0)
    """Default timeout of one sandbox command, in seconds."""
    verify_command: str | None = None
    """Run in the sandbox after `finish`; its result goes into the report (e.g. `pytest -q`)."""
    sandbox_image: str = "qcode-sandbox:latest"
    """Image of the sandbox container (build it with `qcode sandbox build`)."""
    sandbox_memory: str = "4g"
    """Memory limit of the sandbox container."""
    sandbox_cpus: float = Field(2.0, gt=0)
    """CPU limit of the sandbox container."""
    sandbox_pids: int = Field(512, ge=16)
    """Process limit of the sandbox container."""
    sandbox_disk: str | None = "8g"
    """Size cap of the workspace (a loop-mounted image when qcode runs as root, else checked per command)."""
    checkpoint_bytes: str | None = None
    """Disk the session's checkpoints (host.git) may hold, e.g. '2g'; the oldest are dropped past it.
    Default: `sandbox_disk`. An undo past the kept ones says so."""
    output_limit: int = Field(30_000, ge=1000, le=200_000)
    """Characters of one command's output the model sees (head and tail are kept)."""
    state_dir: Path = Field(default_factory=_state_home)
    """Sessions (workspace copies, trajectories, patches) live here."""
    approval: Literal["ask", "auto-edit", "yolo"] = "ask"
    """When the TUI asks before acting."""
    thinking: bool = True
    """Let the model reason in <think> blocks."""
    thinking_budget: int = Field(8192, ge=0)
    """Reasoning tokens per turn before the engine closes </think> itself."""
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    """vLLM's share of GPU memory (on CPU, of RAM)."""
    max_model_len: int = Field(131_072, ge=1024)
    """Context length the vllm engine allocates."""
    preserve_thinking: bool = True
    """Keep past reasoning in the history (the chat template's thinking preservation)."""
    max_turn_tokens: int = Field(16_384, ge=16)
    """Output tokens per model turn (reasoning included)."""
    tool_choice: Literal["auto", "required"] = "auto"
    """`required`: every turn is exactly one constrained tool call (for tiny or untrained models)."""
    constrained_tool_calls: bool = True
    """vllm engine: decode tool calls under a grammar, so each names a real tool with valid arguments."""
    max_argument_chars: int | None = Field(None, ge=1, le=128)
    """vllm engine: cap string arguments under the constraint (for untrained test models)."""
    allowed_tools: list[str] | None = None
    """vllm engine: the tools the constraint lets the model call (comma-separated in the env)."""
    tensor_parallel_size: int = Field(1, ge=1)
    """GPUs the embedded vllm engine shards the model over."""
    mtp_tokens: int = Field(2, ge=0)
    """MTP speculative tokens per step on a GPU (0 turns it off)."""
    seed: int | None = None
    """Sampling seed of the embedded engine."""
    engine_daemon: bool | None = None
    """vllm engine: use the warm engine process (`qcode engine`), started on first use and shared by
    every session. Unset: on for `qcode fix` and `qcode tui`, off for `qcode bot` and `qcode eval`."""
    engine_keep_alive: float = Field(15.0, gt=0, le=10_080)
    """Minutes the warm engine stays loaded after its last request."""
    diagnostics: Literal["syntax", "lint", "off"] = "syntax"
    """Checks after every change: `syntax` (tree-sitter, on the host), `lint` (also the lint commands,
    in the sandbox) or `off`."""
    lint_commands: dict[str, str] = Field(default_factory=dict)
    """File pattern → lint command run in the sandbox ({file} is the path), over the defaults;
    e.g. {"*.py" = "ruff check --output-format=concise {file}"}. JSON in the env."""
    lint_timeout: float = Field(20.0, gt=0, le=120)
    """Seconds one lint command may run."""

    @field_validator("sandbox_memory", "sandbox_disk", "checkpoint_bytes")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        """Sizes are checked here, before any engine loads, not when the sandbox starts."""
        if value is not None:
            parse_size(value)  # ValueError: the one-line reason load_settings reports
        return value

    @field_validator("lint_commands", mode="before")
    @classmethod
    def _json_commands(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError('give a JSON object, e.g. {"*.py": "ruff check {file}"}') from None
        if isinstance(value, dict) and (
            len(value) > 32 or any(len(str(k)) > 200 or len(str(v)) > 2000 for k, v in value.items())
        ):
            raise ValueError("at most 32 lint commands, patterns ≤ 200 and commands ≤ 2000 characters")
        return value

    attempts: int = Field(1, ge=1, le=16)
    """Attempts per task (`--attempts`): sessions run concurrently on one engine; the verified one wins."""
    attempts_stop: Literal["all", "first-verified"] = "all"
    """`first-verified` stops the other attempts once one passes the checks with a reproduction test."""
    attempts_wall_seconds: float = Field(7200.0, gt=0)
    """Wall-clock cap of all attempts of a task together; still-running attempts are then stopped."""

    sampling_profile: Literal["coding", "general", "swe", "instruct"] = "coding"
    """Qwen3.6 model-card sampling: coding (T 0.6), general (T 1.0), swe (Qwen's SWE-bench runs), instruct
    (the card's values for thinking off). Sampling only; each value below overrides it."""
    temperature: float | None = Field(None, ge=0)
    """Overrides the profile's temperature."""
    top_p: float | None = Field(None, gt=0, le=1)
    """Overrides the profile's top_p."""
    top_k: int | None = Field(None, ge=0)
    """Overrides the profile's top_k (0: off)."""
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    """Overrides the profile's presence_penalty."""

    @field_validator("allowed_tools", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return [name.strip() for name in value.split(",") if name.strip()]


REPO_SETTABLE = frozenset(
    {
        "max_steps",
        "max_tokens",
        "max_wall_seconds",
        "command_timeout",
        "verify_command",
        "thinking",
        "thinking_budget",
        "output_limit",
        "preserve_thinking",
        "max_turn_tokens",
        "diagnostics",  # lint commands run only in the sandbox, under lint_timeout
        "lint_commands",
        "lint_timeout",
    }
)
"""Keys a repository's own config may set (it is untrusted: see the module docstring)."""

LOWER_ONLY = frozenset(
    {
        "max_steps",
        "max_tokens",
        "max_wall_seconds",
        "command_timeout",
        "output_limit",
        "max_turn_tokens",
        "lint_timeout",
    }
)
"""Limits a repository may only lower: its value is kept only when below the one it would replace."""


class SourcedSettings(BaseModel):
    settings: Settings
    sources: dict[str, str]
    """Field name → where its value came from (flag, env, repo file, user file, default)."""


EXTENSION_TABLES = frozenset({"mcp", "hooks"})
"""Tables of the user's config read by agent/extensions.py, not settings. A repository may propose
`[mcp]` servers (they start only once trusted) but may never set `hooks`."""


def user_config_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return Path(os.environ.get("QCODE_CONFIG") or base / "qcode" / "config.toml")


def load_settings(
    flags: dict[str, Any] | None = None, repo: Path | None = None, *, skip_unknown: bool = False
) -> SourcedSettings:
    """Merge every source by precedence and validate; bad values raise UserError naming the source.
    `skip_unknown`: ignore unknown keys instead (`qcode config` still shows the rest after the error)."""
    layers: list[tuple[str, dict[str, Any]]] = []
    user_file = user_config_path()
    user_values = _read_toml(user_file, ())
    layers.append(
        (f"user ({user_file})", {k: v for k, v in user_values.items() if k not in EXTENSION_TABLES})
    )
    if repo is not None:
        layers.append(_repo_layer(repo))
    layers.append(("env", _env_values()))
    layers.append(("flag", {k: v for k, v in (flags or {}).items() if v is not None}))

    merged: dict[str, Any] = {}
    sources = {name: "default" for name in Settings.model_fields}
    for source, values in layers:
        for key, value in values.items():
            if key not in Settings.model_fields:
                if skip_unknown:
                    continue
                raise UserError(f"unknown setting {key!r} in {source}{_did_you_mean(key)}")
            if source.startswith("repo") and key in LOWER_ONLY and not _lowers(key, value, merged):
                continue
            merged[key] = value
            sources[key] = source
    try:
        settings = Settings(**merged)
    except ValidationError as err:
        first = err.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "?"
        raise UserError(f"bad value for {key!r} from {sources.get(key, '?')}: {first['msg']}") from None
    return SourcedSettings(settings=settings, sources=sources)


def _did_you_mean(key: str) -> str:
    """`; did you mean 'x'?` for the closest setting name, else where to see the names."""
    from rapidfuzz import fuzz, process

    found = process.extractOne(key, list(Settings.model_fields), scorer=fuzz.ratio, score_cutoff=70)
    return f"; did you mean {found[0]!r}?" if found else "; `qcode config` lists the names"


def _lowers(key: str, value: Any, merged: dict[str, Any]) -> bool:
    """Whether a repository's `value` for the limit `key` is below what the user (or the default)
    has; a value that is not a number is let through for validation to reject with its source."""
    current = merged.get(key, Settings.model_fields[key].default)
    try:
        return float(value) <= float(current)
    except (TypeError, ValueError):
        return True


def _repo_layer(repo: Path) -> tuple[str, dict[str, Any]]:
    dotfile = repo / ".qcode.toml"
    if dotfile.is_file():
        source, values = f"repo ({dotfile.name})", _read_toml(dotfile, ())
    else:
        source, values = "repo (pyproject.toml)", _read_toml(repo / "pyproject.toml", ("tool", "qcode"))
    values.pop("mcp", None)  # proposed servers: see qcode/tools/mcp/config.py
    refused = sorted(set(values) - REPO_SETTABLE)
    if refused:
        raise UserError(
            f"{source} sets {', '.join(refused)}, which only you may set (flag, env or {user_config_path()})"
        )
    return source, values


def _read_toml(path: Path, table: tuple[str, ...]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid TOML ({err}); fix or remove it") from None
    for key in table:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    return {k.replace("-", "_"): v for k, v in data.items()} if isinstance(data, dict) else {}


def _env_values() -> dict[str, Any]:
    prefix = "QCODE_"
    found: dict[str, Any] = {}
    for name, value in os.environ.items():
        key = name[len(prefix) :].lower()
        if name.startswith(prefix) and key in Settings.model_fields:
            found[key] = value
    return found
