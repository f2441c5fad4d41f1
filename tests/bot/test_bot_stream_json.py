"""`qcode bot --output-format stream-json`: the run's events as JSON lines, then the outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bot.conftest import Remote, labeled_event
from tests.bot.fake_github import FakeGitHub
from tests.bot.test_bot_e2e import _fix_turns
from tests.e2e.helpers import write_replay

pytestmark = pytest.mark.docker


def test_bot_streams_events_and_ends_with_its_json_outcome(
    run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path
) -> None:
    replay = write_replay(tmp_path / "fix.jsonl", _fix_turns())
    base = ["--engine", f"replay:{replay}", "--dry-run", "--out", str(tmp_path / "dry")]
    done = run_bot(
        labeled_event(7),
        *base,
        "--output-format",
        "stream-json",
        api_url=github.url,
        env={"GITHUB_TOKEN": ""},
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    types = [record["type"] for record in records]
    assert types[0] == "session_started" and types[-1] == "result"
    assert {"tool_call", "observation", "plan_updated", "finished"} <= set(types)
    result = records[-1]
    assert result["action"] == "opened" and result["result"]["status"] == "resolved"
    assert "token" not in result and "verify" not in result["result"]
    assert github.requests == []
