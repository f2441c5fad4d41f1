"""`qcode map` (the real command, in a subprocess) and the `repo_map` tool through the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from qcode.agent.contracts import ToolCall
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext

FILES = {
    "shop/cart.py": "class Cart:\n    def total(self):\n        return 1\n",
    "shop/views.py": "from shop.cart import Cart\n\ndef show():\n    return Cart().total()\n",
}


def _qcode(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run(
        [sys.executable, "-c", "from qcode.cli import main; main()", "map", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.slow
def test_qcode_map_prints_the_map_and_json(
    make_repo: Callable[[dict[str, str]], Path], tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    plain = _qcode("--repo", str(repo), "--focus", "Cart.total", "--tokens", "200", cache=tmp_path / "xdg")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("shop/cart.py\n     1│class Cart:\n")
    assert "2 files shown" in plain.stderr
    as_json = _qcode("--repo", str(repo), "--focus", "show", "--json", cache=tmp_path / "xdg")
    payload = json.loads(as_json.stdout)
    assert payload["files"][0] == "shop/views.py" and payload["stats"]["parsed"] == 0
    assert (tmp_path / "xdg" / "qcode" / "repomap" / "tags.sqlite").exists()


@pytest.mark.slow
def test_qcode_map_on_a_missing_folder_says_so_in_one_line(tmp_path: Path) -> None:
    result = _qcode("--repo", str(tmp_path / "nope"), cache=tmp_path / "xdg")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not a folder" in result.stderr


class _Unused:
    """The repo map never touches the sandbox: any call is a failure of that rule."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"repo_map used the sandbox ({name})")


def test_repo_map_tool_through_the_sessions_registry(
    make_repo: Callable[[dict[str, str]], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    repo = make_repo(FILES)
    registry = default_registry()  # what every session's executor is given
    ctx = ToolContext(workspace=repo, sandbox=_Unused(), diff=lambda _path: "")  # type: ignore[arg-type]
    observation = registry.dispatch(
        ToolCall(id="c1", name="repo_map", arguments={"focus": "Cart.total", "tokens": 100}), ctx
    )
    assert observation.ok and observation.text.startswith("shop/cart.py")
    assert observation.data["files"][0] == "shop/cart.py"
    bad = registry.dispatch(ToolCall(id="c2", name="repo_map", arguments={"tokens": 5}), ctx)
    assert not bad.ok and "tokens" in bad.text
