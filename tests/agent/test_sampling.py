"""Sampling profiles (Qwen3.6 model card): values, overrides, and what `qcode config` shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from qcode.agent.engines.sampling import PROFILES, resolve_sampling
from qcode.agent.exceptions import UserError

from qcode.config import Settings, load_settings


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("coding", (0.6, 0.95, 20, 0.0)),  # the default: thinking, precise coding
        ("general", (1.0, 0.95, 20, 0.0)),
        ("swe", (1.0, 0.95, None, None)),  # Qwen's own SWE-bench runs set these two only
        ("instruct", (0.7, 0.8, 20, 1.5)),  # thinking off
    ],
)
def test_profiles_follow_the_model_card(profile: str, expected: tuple[object, ...]) -> None:
    sampling, _ = resolve_sampling(Settings(sampling_profile=profile))
    assert (sampling.temperature, sampling.top_p, sampling.top_k, sampling.presence_penalty) == expected


def test_coding_is_the_default_and_each_value_is_overridable() -> None:
    assert resolve_sampling(Settings())[0] == PROFILES["coding"]
    sampling, sources = resolve_sampling(Settings(sampling_profile="general", top_k=40, presence_penalty=0.5))
    assert (sampling.temperature, sampling.top_k, sampling.presence_penalty) == (1.0, 40, 0.5)
    assert sources == {
        "temperature": "profile general",
        "top_p": "profile general",
        "top_k": "setting",
        "presence_penalty": "setting",
    }
    assert sampling.for_openai() == (
        {"temperature": 1.0, "top_p": 0.95},
        {"top_k": 40, "presence_penalty": 0.5},
    )


def test_an_unknown_profile_is_one_line_naming_the_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QCODE_SAMPLING_PROFILE", "creative")
    with pytest.raises(UserError, match="sampling_profile.*env.*'coding', 'general', 'swe' or 'instruct'"):
        load_settings({}, tmp_path)


@pytest.mark.slow
def test_qcode_config_shows_the_effective_sampling(tmp_path: Path) -> None:
    env = {**os.environ, "QCODE_SAMPLING_PROFILE": "swe", "QCODE_TEMPERATURE": "0.8"}
    done = subprocess.run(
        [sys.executable, "-m", "qcode", "config", "--json", "--repo", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    shown = json.loads(done.stdout)
    assert shown["sampling_profile"] == {"value": "swe", "source": "env"}
    assert shown["temperature"] == {"value": 0.8, "source": "env"}
    assert shown["top_p"] == {"value": 0.95, "source": "profile swe"}
    assert shown["top_k"] == {"value": None, "source": "profile swe"}
