from pathlib import Path

import pytest
from qcode.agent.exceptions import UserError

from qcode.config import load_settings


def test_precedence_flag_env_repo_user_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user-config.toml"
    user.write_text('max_steps = 7\ncommand_timeout = 11\nmodel = "user-model"\nsandbox_memory = "2g"\n')
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[tool.qcode]\nmax_steps = 5\ncommand_timeout = 10\n")
    monkeypatch.setenv("QCODE_MAX_STEPS", "13")
    loaded = load_settings({"max_steps": 21, "engine": None}, repo)
    s, src = loaded.settings, loaded.sources
    assert (s.max_steps, src["max_steps"]) == (21, "flag")
    assert (s.command_timeout, src["command_timeout"]) == (10, "repo (pyproject.toml)")
    assert (s.model, src["model"]) == ("user-model", f"user ({user})")
    assert (s.engine, src["engine"]) == ("vllm", "default")
    monkeypatch.delenv("QCODE_MAX_STEPS")
    monkeypatch.setenv("QCODE_COMMAND_TIMEOUT", "30")
    loaded = load_settings({}, repo)
    assert loaded.settings.max_steps == 5 and loaded.settings.command_timeout == 30
    assert loaded.sources["command_timeout"] == "env"


def test_dot_qcode_toml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.qcode]\nmax_steps = 9\n")
    (tmp_path / ".qcode.toml").write_text("max_steps = 4\n")
    assert load_settings({}, tmp_path).settings.max_steps == 4


def test_repo_config_may_not_weaken_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / ".qcode.toml").write_text('sandbox_image = "evil:latest"\nmax_steps = 3\n')
    with pytest.raises(UserError, match="sandbox_image.*only you may set"):
        load_settings({}, tmp_path)


def test_bad_values_name_their_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCODE_MAX_STEPS", "many")
    with pytest.raises(UserError, match="max_steps.*env"):
        load_settings({}, None)


def test_unknown_keys_and_broken_toml_are_refused(tmp_path: Path) -> None:
    (tmp_path / ".qcode.toml").write_text("max_stepz = 3\n")
    with pytest.raises(UserError, match="only you may set|unknown"):
        load_settings({}, tmp_path)
    (tmp_path / ".qcode.toml").write_text("max_steps = \n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_settings({}, tmp_path)
