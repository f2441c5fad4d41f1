"""`qcode fix --output-format stream-json`: JSON lines on stdout while the run goes on, ending with
the `--json` object as a `result` line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qcode.stream_json import RESULT_FIELDS, SCHEMA_VERSION
from tests.e2e.helpers import QCODE, raw_call, run_qcode, write_replay

pytestmark = pytest.mark.docker

GATE = ".qcode-test-gate"


def _turns() -> list[dict[str, Any]]:
    return [
        raw_call("update_plan", plan=[{"step": "Write the note", "status": "in_progress"}]),
        raw_call("read_file", path="notes.txt"),
        # Blocks until the test has seen the read's observation (no sleep as synchronisation).
        raw_call("shell", command=f"while [ ! -f {GATE} ]; do sleep 0.05; done; rm -f {GATE}; echo released"),
        raw_call("write_file", path="notes.txt", content="done\n"),
        raw_call("finish", summary="Wrote the note."),
    ]


def _lines(out: Any) -> Any:
    for line in out:
        yield json.loads(line)


def test_events_arrive_while_the_run_goes_on(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"notes.txt": "todo\n"})
    replay = write_replay(tmp_path / "turns.jsonl", _turns())
    args = ["fix", "write done in notes.txt", "--repo", str(repo), "--engine", f"replay:{replay}"]
    with subprocess.Popen(
        [*QCODE, *args, "--output-format", "stream-json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as process:
        records: list[dict[str, Any]] = []
        assert process.stdout is not None and process.stderr is not None
        for record in _lines(process.stdout):
            records.append(record)
            if record["type"] == "observation" and record["name"] == "read_file":
                # The run waits on the gate: the read's observation came while it is still going.
                assert process.poll() is None
                workspace = Path(records[0]["workspace"])
                (workspace / GATE).write_text("go\n")
        stderr = process.stderr.read()
        process.wait(timeout=120)
    assert process.returncode == 0, stderr
    assert "resolved" in stderr and "session" in stderr  # the human view stays on stderr

    types = [record["type"] for record in records]
    assert all(record["v"] == SCHEMA_VERSION for record in records)
    assert types[0] == "session_started" and types[-1] == "result" and types[-2] == "finished"
    for kind in ("turn", "tool_call", "observation", "plan_updated", "delta"):
        assert kind in types, kind
    started = records[0]
    assert started["branch"].startswith("qcode/") and started["engine"].startswith("replay")
    deltas = [r for r in records if r["type"] == "delta"]
    assert {d["channel"] for d in deltas} <= {"reasoning", "text", "tool_call"}
    first_call = next(r for r in records if r["type"] == "tool_call")
    assert first_call["name"] == "update_plan" and first_call["arguments"]["plan"]
    shell = next(r for r in records if r["type"] == "observation" and r["name"] == "shell")
    assert shell["ok"] and "released" in shell["text"]
    write = next(r for r in records if r["type"] == "observation" and r["name"] == "write_file")
    assert write["data"], "structured data (the diff) travels with the observation"

    result = records[-1]
    assert set(result) - {"type", "v"} == RESULT_FIELDS
    finished = records[-2]
    for key in ("status", "branch", "commit", "patch", "steps", "summary", "trajectory"):
        assert result[key] == finished[key], key
    assert result["session_id"] == started["session_id"]

    # The same run with --output-format json prints exactly that object's shape and values.
    again = make_repo({"notes.txt": "todo\n"})
    gate_free = [*_turns()]
    gate_free[2] = raw_call("shell", command="echo released")
    replay2 = write_replay(tmp_path / "turns2.jsonl", gate_free)
    args2 = ["fix", "write done in notes.txt", "--repo", str(again), "--engine", f"replay:{replay2}"]
    single = run_qcode(*args2, "--output-format", "json")
    assert single.returncode == 0, single.stderr
    (obj,) = [json.loads(line) for line in single.stdout.splitlines()]
    assert set(obj) == set(result) - {"type", "v"}
    for key in ("status", "reason", "steps", "summary", "verify"):
        assert obj[key] == result[key], key
    assert set(obj["usage"]) == set(result["usage"])  # the counts differ: the shell's output does
    assert obj["branch"] == result["branch"]  # same slug; each repo has its own branch


def test_json_flag_is_output_format_json_and_stdout_holds_only_json(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"notes.txt": "todo\n"})
    turns = [raw_call("shell", command="printf 'not json\\n'"), raw_call("finish", summary="nothing")]
    replay = write_replay(tmp_path / "t.jsonl", turns)
    base = ["fix", "look around", "--repo", str(repo), "--engine", f"replay:{replay}"]
    streamed = run_qcode(*base, "--output-format", "stream-json")
    lines = streamed.stdout.splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert json.loads(lines[-1])["status"] == "unresolved"  # finished without changing a file
    assert streamed.returncode == 1
    legacy = run_qcode(*base, "--json", env={"NO_COLOR": "1", **os.environ})
    (obj,) = [json.loads(line) for line in legacy.stdout.splitlines()]
    assert set(obj) == RESULT_FIELDS
