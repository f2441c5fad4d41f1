"""Done-when of issue 15 item 1: a session that was compacted, killed with SIGKILL and resumed
continues with the COMPACTED history. The engine is an OpenAI-compatible fake that records every
request: exactly the messages the model is shown, before the kill and after the resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from qcode.agent.sessions import list_sessions

from qcode.config import load_settings
from qcode.runner import new_session
from tests.e2e.helpers import QCODE
from tests.engines.fake_openai import Behaviour, fake_openai_server, request_words
from tests.polling import wait_until

pytestmark = pytest.mark.docker

BIG_WORDS = 3000
SMALL_WORDS = 200


def _answer(name: str, **arguments: object) -> dict[str, object]:
    return {"content": "", "tool_calls": [(name, json.dumps(arguments))]}


def test_a_compacted_killed_session_resumes_with_the_compacted_history(
    make_repo, monkeypatch: pytest.MonkeyPatch, isolated_state: Path
) -> None:
    big = "".join(" ".join(f"big{i}w{j}" for j in range(100)) + "\n" for i in range(BIG_WORDS // 100))
    files = {"big.txt": big, **{f"s{i}.txt": "a " * SMALL_WORDS + "\n" for i in range(9)}}
    repo = make_repo(files)
    plan = [{"step": "read the files", "status": "in_progress"}, {"step": "Done when: all read"}]
    answers = [_answer("update_plan", plan=plan), _answer("read_file", path="big.txt")]
    answers += [_answer("read_file", path=f"s{i}.txt") for i in range(9)]
    # The "server" refuses a prompt once the reads after big.txt pass about eight small files:
    # big.txt is then older than the six most recent results, so compaction shortens it.
    behaviour = Behaviour(
        answers=answers,
        context_limit=lambda requests: request_words(requests[0]) + 3125 + SMALL_WORDS * 17 // 2,
        hold=threading.Event(),
    )
    with fake_openai_server(behaviour) as url:
        monkeypatch.setenv("QCODE_ENGINE", "openai")
        monkeypatch.setenv("QCODE_PLAN_FIRST", "true")
        monkeypatch.setenv("QCODE_OPENAI_BASE_URL", url)
        proc = subprocess.Popen(
            [*QCODE, "fix", "read every file", "--repo", str(repo), "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ),
        )
        try:
            # The request after the compaction is being "generated" when qcode is killed.
            wait_until(lambda: behaviour.held or proc.poll() is not None or None, 240, "the held request")
            assert proc.poll() is None, "qcode ended before its compacted request"
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=30) == -9
        finally:
            proc.kill()
            behaviour.hold.set()
        held = behaviour.requests[-1]
        assert "big0w0" not in json.dumps(held["messages"])  # it was compacted before the kill
        assert "compacted by qcode" in json.dumps(held["messages"])

        (meta,) = list_sessions(isolated_state, repo=repo)
        assert meta.status == "interrupted"
        behaviour.answers = [_answer("finish", summary="read them all")]
        settings = load_settings({}, None).settings
        before = len(behaviour.requests)
        with new_session(settings, repo, resume=meta.id) as session:
            session.run("go on")
    # One request: the resumed history fits (a history rebuilt uncompacted would overflow again).
    assert len(behaviour.requests) == before + 1
    resumed = behaviour.requests[before]["messages"]
    # The resumed conversation is the compacted one, token for token, then the new message.
    assert resumed[: len(held["messages"])] == held["messages"]
    assert [m["content"] for m in resumed[len(held["messages"]) :]] == ["go on"]
    assert "big0w0" not in json.dumps(resumed)
