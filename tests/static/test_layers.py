"""Every module of the `qcode` package sits in a layer of the import-linter contract.

import-linter checks only the modules a contract names: a new module left out would be free to
import anything. This test fails until the module is placed (see CONTRIBUTING.md)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [name for layer in contract["layers"] for name in re.split(r"[|:]", layer)]


def _children(package: str, folder: Path) -> set[str]:
    names = {f"{package}.{path.stem}" for path in folder.glob("*.py") if path.stem != "__init__"}
    names |= {f"{package}.{path.parent.name}" for path in folder.glob("*/__init__.py")}
    return names


def test_every_module_is_placed() -> None:
    placed = {name.strip() for name in _layers()}
    modules = _children("qcode", ROOT / "qcode") | _children("qcode.agent", ROOT / "agent")
    modules -= {"qcode.agent"}  # its children are placed one by one
    modules |= {"qcode.tools", "qcode.sandbox", "qcode.prompts", "qcode.evals"}
    assert sorted(modules - placed) == []


def test_layers_name_only_real_modules() -> None:
    """A renamed module must not leave a stale (and so unchecked) name behind."""
    modules = _children("qcode", ROOT / "qcode") | _children("qcode.agent", ROOT / "agent")
    modules |= {"qcode.tools", "qcode.sandbox", "qcode.prompts", "qcode.evals"}
    assert sorted({name.strip() for name in _layers()} - modules) == []
