"""An MCP tool constrained-called by the real embedded engine (the tiny random-weight model, CPU).

The untrained model picks at random, so the constraint allows only the MCP tool and every turn is
one forced call: what is checked is that the server's JSON schema reached the grammar (every call
schema-valid), the real server answered, and its answer is in the trajectory the model reads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory

from tests.e2e.helpers import run_qcode
from tests.engines.test_fix_vllm import ENGINE_ENV
from tests.mcp.conftest import SERVER

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]


def test_the_tiny_model_calls_an_mcp_tool_under_the_constraint(
    make_repo, tiny_model_dir: Path, isolated_state: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "calls.log"
    args = json.dumps([str(SERVER), "stdio"])
    (isolated_state.parent / "user-config.toml").write_text(
        f"[mcp.servers.wiki]\ncommand = {json.dumps(sys.executable)}\nargs = {args}\n"
        f"env = {{ MCP_TEST_LOG = {json.dumps(str(log))} }}\n"
    )
    repo = make_repo({"a.txt": "a\n"})
    env = {**ENGINE_ENV, "QCODE_ALLOWED_TOOLS": "mcp__wiki__lookup"}
    done = run_qcode(
        "fix", "look it up", "--repo", str(repo), "--engine", "vllm", "--model", str(tiny_model_dir),
        "--max-steps", "2", "--json", env=env, timeout=840,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["steps"] == 2, (result, done.stderr[-3000:])
    records = read_trajectory(Path(result["trajectory"]))
    calls = [r for r in records if r["type"] == "tool_call"]
    observations = [r for r in records if r["type"] == "observation"]
    assert [c["name"] for c in calls] == ["mcp__wiki__lookup"] * 2
    assert all(isinstance(c["arguments"].get("key"), str) for c in calls)
    assert all(o["ok"] and o["text"].startswith("wiki says") for o in observations), observations
    assert log.read_text().count("lookup ") == 2  # the real server answered both
