"""A cancel that arrives while the prompt still waits for the process's one engine (another
session's prompt holds it) must count: `Session.run` clears the flag when it starts, so the agent
checks it first."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

from qcode.agent.engines.replay import ReplayEngine
from qcode.agent.session import RunResult

from qcode.acp.agent import QcodeAgent
from qcode.images import VisionEngine
from tests.e2e.helpers import raw_call, write_replay


class _Session:
    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.ran: list[str] = []

    def run(self, text: str) -> RunResult:
        self.cancelled.clear()  # as Session.run does
        self.ran.append(text)
        return RunResult(status="resolved", reason="finished")


def test_a_prompt_cancelled_while_it_waits_never_runs(tmp_path: Path) -> None:
    agent = QcodeAgent({}, "yolo")
    agent._engine = VisionEngine(ReplayEngine(write_replay(tmp_path / "r.jsonl", [raw_call("finish")])))
    waiting, other = SimpleNamespace(session=_Session()), SimpleNamespace(session=_Session())
    with agent._running:  # another session's prompt holds the engine
        runner = threading.Thread(target=lambda: setattr(waiting, "result", agent._run(waiting, None, "go")))
        runner.start()
        waiting.session.cancelled.set()  # the editor's session/cancel
    runner.join(30)
    assert waiting.result is None and waiting.session.ran == []
    assert agent._run(other, None, "next") is not None and other.session.ran == ["next"]  # others run
