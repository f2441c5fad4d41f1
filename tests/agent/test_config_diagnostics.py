"""Diagnostics settings: a repository may choose them (its lint commands run only in the sandbox)."""

from pathlib import Path

import pytest
from qcode.agent.exceptions import UserError

from qcode.config import load_settings


def test_a_repository_sets_diagnostics_and_lint_commands(tmp_path: Path) -> None:
    (tmp_path / ".qcode.toml").write_text(
        'diagnostics = "lint"\nlint_timeout = 5\n[lint_commands]\n"*.py" = "ruff check {file}"\n'
    )
    loaded = load_settings({}, tmp_path)
    s = loaded.settings
    assert (s.diagnostics, s.lint_timeout, s.lint_commands) == ("lint", 5, {"*.py": "ruff check {file}"})
    assert loaded.sources["lint_commands"] == "repo (.qcode.toml)"


def test_defaults_and_env_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings({}, tmp_path).settings.diagnostics == "syntax"
    monkeypatch.setenv("QCODE_LINT_COMMANDS", '{"*.go": ""}')
    assert load_settings({}, tmp_path).settings.lint_commands == {"*.go": ""}
    monkeypatch.setenv("QCODE_LINT_COMMANDS", "{bad")
    with pytest.raises(UserError, match="'lint_commands' from env: .*give a JSON object"):
        load_settings({}, tmp_path)


@pytest.mark.parametrize(
    ("toml", "wanted"),
    [
        ('diagnostics = "everything"\n', "diagnostics"),
        ("lint_timeout = -1\n", "lint_timeout"),
        ("[lint_commands]\n" + "".join(f'"*.{n}" = "x"\n' for n in range(40)), "lint_commands"),
    ],
)
def test_bad_or_unbounded_values_are_refused_naming_the_key(tmp_path: Path, toml: str, wanted: str) -> None:
    (tmp_path / ".qcode.toml").write_text(toml)
    with pytest.raises(UserError, match=f"bad value for '{wanted}' from repo"):
        load_settings({}, tmp_path)


def test_a_repository_cannot_raise_the_lint_timeout(tmp_path: Path) -> None:
    (tmp_path / ".qcode.toml").write_text("lint_timeout = 120\n")  # a hanging linter, 6x longer
    loaded = load_settings({}, tmp_path)
    assert loaded.settings.lint_timeout == 20 and loaded.sources["lint_timeout"] == "default"
