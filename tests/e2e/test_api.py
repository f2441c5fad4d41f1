"""The Python API: `qcode.fix` returns what `qcode fix --json` prints, with its events; `iter_fix`
streams them; `import qcode` loads no front door."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import qcode
from qcode.stream_json import RESULT_FIELDS
from tests.conftest import git
from tests.e2e.helpers import qcode_containers, raw_call, run_qcode, write_replay
from tests.e2e.test_fix import BUGGY, TEST, _fix_turns

pytestmark = pytest.mark.docker
ISSUE = "mean([2, 4, 6]) returns 3 instead of 4"


def test_fix_returns_the_clis_result_with_its_events(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"stats.py": BUGGY, "test_stats.py": TEST})
    head = git(repo, "rev-parse", "HEAD")
    events: list[dict[str, Any]] = []
    result = qcode.fix(
        ISSUE,
        repo=repo,
        engine=f"replay:{write_replay(tmp_path / 'a.jsonl', _fix_turns())}",
        verify="python -m pytest -q",
        on_event=events.append,
    )
    assert isinstance(result, qcode.RunResult)
    assert result.status == "resolved" and result.verify and result.verify["exit_code"] == 0
    assert "return sum(values) / len(values)" in git(repo, "show", f"{result.branch}:stats.py")
    assert git(repo, "rev-parse", "HEAD") == head  # the checkout is untouched
    types = [event["type"] for event in events]
    assert types[0] == "session_started" and types[-1] == "finished"
    assert types.count("tool_call") == 7 and "delta" in types and "plan_updated" in types
    assert events[0]["session_id"] == result.session_id

    cli_repo = make_repo({"stats.py": BUGGY, "test_stats.py": TEST})
    replay = write_replay(tmp_path / "b.jsonl", _fix_turns())
    done = run_qcode(
        "fix", ISSUE, "--repo", str(cli_repo), "--engine", f"replay:{replay}", "--verify",
        "python -m pytest -q", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    api = result.model_dump(mode="json", include=set(RESULT_FIELDS))
    assert set(api) == set(cli) == RESULT_FIELDS
    for key in ("status", "reason", "steps", "summary", "branch"):
        assert api[key] == cli[key], key
    assert api["verify"]["exit_code"] == cli["verify"]["exit_code"] == 0


def test_iter_fix_streams_and_stopping_early_removes_the_sandbox(
    make_repo, tmp_path: Path, isolated_state: Path
) -> None:
    repo = make_repo({"stats.py": BUGGY, "test_stats.py": TEST})
    replay = write_replay(tmp_path / "a.jsonl", _fix_turns())
    records = list(qcode.iter_fix(ISSUE, repo=repo, engine=f"replay:{replay}"))
    assert records[-1]["type"] == "result" and records[-1]["status"] == "resolved"
    assert set(records[-1]) - {"type", "v"} == RESULT_FIELDS

    turns = [raw_call("shell", command="echo one"), raw_call("shell", command="sleep 300")]
    stream = qcode.iter_fix(ISSUE, repo=repo, engine=f"replay:{write_replay(tmp_path / 'c.jsonl', turns)}")
    session_id = ""
    for record in stream:
        session_id = session_id or record.get("session_id", "")
        if record["type"] == "tool_call" and record["arguments"]["command"] == "sleep 300":
            break  # the reader stops while a command runs: it is killed, the run ends, cleans up
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 60  # a correctness bound: the command would run 300 s
    assert session_id and qcode_containers(session_id) == []
    meta = json.loads((isolated_state / "sessions" / session_id / "session.json").read_text())
    assert meta["status"] == "interrupted"


def test_bad_input_raises_user_error(make_repo, tmp_path: Path) -> None:
    with pytest.raises(qcode.UserError, match="not a git repository|git"):
        qcode.fix("x", repo=tmp_path, engine="replay:/nonexistent")
    with pytest.raises(qcode.UserError, match="not a git repository"):
        qcode.fix("x", repo=tmp_path, attempts=3)  # before any engine loads


def test_import_qcode_loads_no_front_door() -> None:
    probe = "import qcode.agent.events, qcode, sys; print(sorted(m for m in sys.modules if m in "
    probe += "('qcode.api', 'qcode.cli', 'qcode.runner', 'click', 'rich')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
