"""Issue 20's "Done when": a scripted session's syntax breaks come back in the same observation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.agent.qwen_xml import render_tool_call
from qcode.agent.trajectory import read_trajectory

from tests.e2e.helpers import raw_call, run_qcode, write_replay

pytestmark = pytest.mark.docker

FILES = {
    "shop/cart.py": (
        "class Cart:\n    def __init__(self):\n        self.items = []\n\n"
        "    def total(self):\n        return sum(self.items)\n"
    ),
    "web/cart.ts": (
        "export class Cart {\n  items: number[] = [];\n\n  total(): number {\n"
        "    if (this.items.length) {\n      return this.items.reduce((a, b) => a + b);\n    }\n"
        "    return 0;\n  }\n}\n"
    ),
    "legacy.py": "def broken(:\n    pass\n\n\ndef fine():\n    return 1\n",
}


def test_done_when_breaks_are_reported_with_line_numbers_and_old_breaks_are_not(
    make_repo, tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    replay = write_replay(
        tmp_path / "r.jsonl",
        [
            raw_call("update_plan", plan=[{"step": "change totals", "status": "in_progress"}]),
            {"raw": render_tool_call("find_symbol", {"name": "Cart.total"})},
            raw_call(  # leaves an unclosed parenthesis on line 6
                "edit_file",
                path="shop/cart.py",
                old_text="return sum(self.items)",
                new_text="return sum(self.items",
            ),
            raw_call(  # drops the closing brace of the `if` block
                "edit_file",
                path="web/cart.ts",
                old_text="      return this.items.reduce((a, b) => a + b);\n    }\n",
                new_text="      return this.items.reduce((a, b) => a + b);\n",
            ),
            raw_call("edit_file", path="legacy.py", old_text="return 1", new_text="return 2"),
            raw_call(  # the model repairs the Python file, then a shell command breaks it again
                "edit_file",
                path="shop/cart.py",
                old_text="return sum(self.items",
                new_text="return sum(self.items)",
            ),
            raw_call(
                "shell", command="sed -i 's/return sum(self.items)/return [sum(self.items)/' shop/cart.py"
            ),
            raw_call("finish", summary="done"),
        ],
    )
    done = run_qcode("fix", "Change totals", "--repo", str(repo), "--engine", f"replay:{replay}", "--json")
    result = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr

    obs = [r for r in read_trajectory(Path(result["trajectory"])) if r["type"] == "observation"]
    assert [o["name"] for o in obs][:7] == [
        "update_plan",
        "find_symbol",
        "edit_file",
        "edit_file",
        "edit_file",
        "edit_file",
        "shell",
    ]
    symbol, py_edit, ts_edit, legacy_edit, repair, shell = obs[1:7]
    assert symbol["ok"] and symbol["text"].splitlines()[1].startswith(
        "shop/cart.py:5: def total(self):  [method Cart.total]"
    )

    assert not py_edit["ok"] and "shop/cart.py:6: `(` is never closed" in py_edit["text"]
    assert ">    6\t        return sum(self.items" in py_edit["text"]

    assert not ts_edit["ok"] and "web/cart.ts:" in ts_edit["text"] and "missing `}`" in ts_edit["text"]
    assert [p["path"] for p in ts_edit["data"]["diagnostics"]] == ["web/cart.ts"] * len(
        ts_edit["data"]["diagnostics"]
    )
    assert all(isinstance(p["line"], int) and p["line"] > 0 for p in ts_edit["data"]["diagnostics"])

    assert legacy_edit["ok"] and "Diagnostics" not in legacy_edit["text"]  # broken before the session
    assert repair["ok"] and "Diagnostics" not in repair["text"]
    assert not shell["ok"] and "shop/cart.py:6: `[` is never closed" in shell["text"]


def test_the_repositorys_setting_reaches_the_session(make_repo, tmp_path: Path) -> None:
    repo = make_repo({**FILES, ".qcode.toml": 'diagnostics = "off"\n'})
    replay = write_replay(
        tmp_path / "r.jsonl",
        [
            raw_call("update_plan", plan=[{"step": "x", "status": "in_progress"}]),
            raw_call(
                "edit_file",
                path="shop/cart.py",
                old_text="return sum(self.items)",
                new_text="return sum(self.items",
            ),
            raw_call("finish", summary="done"),
        ],
    )
    done = run_qcode("fix", "Change totals", "--repo", str(repo), "--engine", f"replay:{replay}", "--json")
    assert done.returncode == 0, done.stderr
    obs = [
        r for r in read_trajectory(Path(json.loads(done.stdout)["trajectory"])) if r["type"] == "observation"
    ]
    assert obs[1]["name"] == "edit_file" and obs[1]["ok"] and "Diagnostics" not in obs[1]["text"]
