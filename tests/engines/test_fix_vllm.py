"""Done-when of the engine issue: `qcode fix … --engine vllm --model <tiny folder>` on CPU.

The real `qcode` command, the real embedded engine (its own load, in the subprocess), real
Docker and git. A random-weight model knows nothing, so the run uses the forced-call mode
(`tool_choice=required`: every answer is exactly one constrained call), a cap on argument
length and an allowed-tools list without `finish` (else a random pick could end the run early);
what is checked is what the engine guarantees: six steps through the engine, every call
schema-valid, and most prompt tokens served from the prefix cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from qcode.agent.trajectory import read_trajectory
from qcode.tools.builtin import default_registry

from tests.e2e.helpers import run_qcode

pytestmark = [pytest.mark.docker, pytest.mark.vllm, pytest.mark.timeout(900)]

SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in default_registry().schemas()}
ENGINE_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "QCODE_GPU_MEMORY_UTILIZATION": "0.3",
    "QCODE_MAX_MODEL_LEN": "16384",
    "QCODE_THINKING_BUDGET": "16",
    "QCODE_TOOL_CHOICE": "required",
    "QCODE_MAX_ARGUMENT_CHARS": "40",
    "QCODE_MAX_TURN_TOKENS": "1200",
    # The untrained model picks tools at random; the constraint keeps it off `finish`, so the run
    # always takes its six steps.
    "QCODE_ALLOWED_TOOLS": "read_file,list_files,search,edit_file,write_file,shell,git_diff,update_plan",
    "QCODE_SEED": "3",
    "QCODE_ENGINE_DAEMON": "false",  # this test is about the in-process engine (warm: test_warm_engine)
}


def test_six_steps_through_the_real_engine(make_repo, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo({"cart.py": "def total(items):\n    return sum(items) + 1\n"})
    done = run_qcode(
        "fix",
        "total([1, 2]) returns 4 instead of 3",
        "--repo",
        str(repo),
        "--engine",
        "vllm",
        "--model",
        str(tiny_model_dir),
        "--max-steps",
        "6",
        "--json",
        env=ENGINE_ENV,
        timeout=840,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["steps"] == 6, (result, done.stderr[-3000:])
    assert "step limit" in result["reason"] and done.returncode == 1

    records = read_trajectory(Path(result["trajectory"]))
    turns = [r for r in records if r["type"] == "turn"]
    calls = [r for r in records if r["type"] == "tool_call"]
    assert len(turns) == 6 and len(calls) == 6
    for turn in turns:
        assert [c["problem"] for c in turn["tool_calls"]] == [None], turn["raw"]
    for call in calls:
        jsonschema.validate(call["arguments"], SCHEMAS[call["name"]])
    observations = [r for r in records if r["type"] == "observation"]
    assert not [
        o
        for o in observations
        if o["data"].get("error") in ("malformed_call", "unknown_tool", "invalid_arguments")
    ]

    usage = result["usage"]
    assert usage["prompt_tokens"] == sum(t["usage"]["prompt_tokens"] for t in turns)
    assert usage["cached_tokens"] / usage["prompt_tokens"] >= 0.6, usage
