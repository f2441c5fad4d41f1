"""`qcode acp` driven as a subprocess by a client built with the same SDK: a session with
permission requests (allow always, reject, allow once), a cancel mid-turn, and a load of the saved
session in a second process. Real Docker and git; a replay engine."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from acp import spawn_agent_process, text_block
from acp.schema import AllowedOutcome, RequestPermissionResponse
from qcode.agent.qwen_xml import render_tool_call

from tests.conftest import git
from tests.e2e.helpers import qcode_containers, raw_call, write_replay

pytestmark = pytest.mark.docker

ALWAYS = "echo hi > a.txt"


class RecordingClient:
    """Answers permission requests from a script and keeps every update."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.updates: list[Any] = []
        self.permissions: list[Any] = []

    async def request_permission(self, options: list[Any], session_id: str, tool_call: Any, **_: Any) -> Any:
        self.permissions.append(tool_call)
        assert [o.kind for o in options] == ["allow_once", "allow_always", "reject_once"]
        choice = self.answers.pop(0)
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=choice))

    async def session_update(self, session_id: str, update: Any, **_: Any) -> None:
        self.updates.append(update)

    def of(self, kind: str) -> list[Any]:
        return [u for u in self.updates if u.session_update == kind]


def _first_turns() -> list[dict[str, Any]]:
    plan = render_tool_call("update_plan", {"plan": [{"step": "Write the files", "status": "in_progress"}]})
    return [
        {"raw": f"<think>\nWhere to start.\n</think>\n\nI will plan first.\n{plan}"},
        raw_call("shell", command=ALWAYS),
        raw_call("shell", command=ALWAYS),  # allowed always: no second request
        raw_call("shell", command="rm -rf src"),  # rejected
        raw_call("write_file", path="b.txt", content="bee\n"),
        raw_call("finish", summary="wrote a and b"),
        # the second prompt, cancelled while its command runs:
        raw_call("shell", command="touch began; sleep 30"),
    ]


async def _until(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _spawn(client: RecordingClient, replay: Path, stderr: Any) -> Any:
    return spawn_agent_process(
        client, "qcode", "acp", "--engine", f"replay:{replay}", "--approval", "ask",
        env=dict(os.environ), transport_kwargs={"stderr": stderr, "shutdown_timeout": 60},
    )  # fmt: skip


def test_an_editor_session_with_approvals_a_cancel_and_a_load(
    make_repo, tmp_path: Path, isolated_state: Path
) -> None:
    repo = make_repo({"src/app.py": "print('hi')\n"})
    head = git(repo, "rev-parse", "HEAD")
    first = write_replay(tmp_path / "first.jsonl", _first_turns())
    second = write_replay(
        tmp_path / "second.jsonl",
        [raw_call("write_file", path="c.txt", content="sea\n"), raw_call("finish", summary="and c")],
    )
    log = (tmp_path / "agent-stderr.txt").open("w")

    async def scenario() -> str:
        client = RecordingClient(["allow_always", "reject", "allow_once", "allow_once"])
        async with _spawn(client, first, log) as (conn, _process):
            init = await conn.initialize(protocol_version=1)
            assert init.agent_capabilities.load_session
            session_id = (await conn.new_session(cwd=str(repo), mcp_servers=[])).session_id
            done = await conn.prompt(session_id=session_id, prompt=[text_block("write a.txt and b.txt")])
            assert done.stop_reason == "end_turn"
            _check_first_turn(client, repo)

            # A follow-up whose command runs 30 s: cancelled once it runs, answered within seconds.
            began = isolated_state / "sessions" / session_id / "workspace" / "began"
            turn = asyncio.create_task(conn.prompt(session_id=session_id, prompt=[text_block("and sleep")]))
            await _until(began.exists, "the sleep to start")
            cancelled_at = time.monotonic()
            await conn.cancel(session_id=session_id)
            assert (await asyncio.wait_for(turn, 20)).stop_reason == "cancelled"
            assert time.monotonic() - cancelled_at < 20  # a correctness bound: the command took 30 s
        assert qcode_containers(session_id) == []  # the process closed its sandbox on the way out

        loaded = RecordingClient(["allow_once"])
        async with _spawn(loaded, second, log) as (conn, _process):
            await conn.initialize(protocol_version=1)
            await conn.load_session(cwd=str(repo), session_id=session_id, mcp_servers=[])
            replayed = loaded.of("user_message_chunk")
            assert replayed and replayed[0].content.text == "write a.txt and b.txt"
            history = {u.tool_call_id for u in loaded.of("tool_call")}
            assert len(history) >= 6  # the first prompt's calls and the cancelled one
            loaded.updates.clear()
            done = await conn.prompt(session_id=session_id, prompt=[text_block("now c.txt")])
            assert done.stop_reason == "end_turn"
            assert [p.title for p in loaded.permissions] == ["write_file"]
            message = "".join(u.content.text for u in loaded.of("agent_message_chunk"))
            assert "resolved" in message and "qcode/" in message
        return session_id

    try:
        session_id = asyncio.run(scenario())
    finally:
        log.close()
    # The branch holds the work of both processes; the user's checkout is untouched.
    branch = next(line.strip(" *") for line in git(repo, "branch").splitlines() if "qcode/" in line)
    assert git(repo, "show", f"{branch}:a.txt") == "hi\n"
    assert git(repo, "show", f"{branch}:b.txt") == "bee\n" and git(repo, "show", f"{branch}:c.txt") == "sea\n"
    assert git(repo, "rev-parse", "HEAD") == head and not (repo / "a.txt").exists()
    assert git(repo, "status", "--porcelain") == ""
    assert session_id


def _check_first_turn(client: RecordingClient, repo: Path) -> None:
    asked = [(p.title, p.kind) for p in client.permissions]
    assert asked == [("shell", "execute"), ("shell", "execute"), ("write_file", "edit")]
    thoughts = "".join(u.content.text for u in client.of("agent_thought_chunk"))
    assert "Where to start." in thoughts
    assert "I will plan first." in "".join(u.content.text for u in client.of("agent_message_chunk"))
    (plan,) = client.of("plan")
    assert [(e.content, e.status) for e in plan.entries] == [("Write the files", "in_progress")]
    starts = client.of("tool_call")
    assert [s.kind for s in starts] == ["think", "execute", "execute", "execute", "edit", "other"]
    assert len({s.tool_call_id for s in starts}) == len(starts)  # unique, though the model's repeat
    asked_ids = [p.tool_call_id for p in client.permissions]
    assert asked_ids == [starts[1].tool_call_id, starts[3].tool_call_id, starts[4].tool_call_id]
    write = next(s for s in starts if s.kind == "edit")
    assert write.locations[0].path == str(repo / "b.txt")
    ends = {u.tool_call_id: u for u in client.of("tool_call_update")}
    assert [ends[s.tool_call_id].status for s in starts] == [
        "completed", "completed", "completed", "failed", "completed", "completed",
    ]  # fmt: skip
    (diff,) = [c for c in ends[write.tool_call_id].content if c.type == "diff"]
    assert (diff.path, diff.new_text, diff.old_text) == (str(repo / "b.txt"), "bee\n", None)
    rejected = ends[starts[3].tool_call_id].content[-1].content.text
    assert "reject" in rejected
