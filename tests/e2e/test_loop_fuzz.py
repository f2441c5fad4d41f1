"""Thousands of malformed turns through the real parser, registry, tools and sandbox: no exception
escapes, and every tool call the parser finds is answered by an observation."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from qcode.agent.contracts import Message, Turn
from qcode.agent.engines.chat import for_chat_template
from qcode.agent.events import EventBus
from qcode.agent.exceptions import LimitReached
from qcode.agent.loop import AgentLoop, LoopLimits
from qcode.agent.qwen_xml import parse_turn
from qcode.agent.recovery import Recovery
from qcode.evals.tiny_model import render_chat
from qcode.sandbox.container import DockerSandbox, SandboxSettings
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext

from tests.conftest import SANDBOX_IMAGE

pytestmark = pytest.mark.docker

TOOLS = default_registry().schemas()
TURNS = int(__import__("os").environ.get("QCODE_FUZZ_TURNS", "3000"))
NAMES = [
    "read_file",
    "list_files",
    "search",
    "edit_file",
    "write_file",
    "shell",
    "git_diff",
    "update_plan",
    "",
    "nope",
    "read file",
    "shell<",
    "finish_",
]
PARAMS = [
    "path",
    "start_line",
    "end_line",
    "pattern",
    "glob",
    "old_text",
    "new_text",
    "content",
    "command",
    "timeout",
    "plan",
    "",
    "x y",
    "replace_all",
]
VALUES = [
    "a.py",
    "../../etc/passwd",
    "/etc/shadow",
    "~/.ssh/id_rsa",
    "-1",
    "abc",
    "3",
    "true",
    "[",
    "[{}]",
    '[{"step": "s", "status": "weird"}]',
    "echo hi",
    "exit 7",
    "cat",
    "(",
    "x" * 300,
    "",
    "\n",
    "</parameter>",
    "<tool_call>",
    "def f():\n    return 1\n",
]
FRAGMENTS = [
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "</function>",
    "<parameter=",
    "</parameter>",
    ">",
    "<think>",
    "</think>",
    "{",
    '"name":',
    "\n",
    "<",
    "=",
    "text",
]


def _malformed_turn(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 3)):
        call = [f"<tool_call>\n<function={rng.choice(NAMES)}>\n"]
        for _ in range(rng.randint(0, 3)):
            call.append(f"<parameter={rng.choice(PARAMS)}>\n{rng.choice(VALUES)}\n</parameter>\n")
        call.append("</function>\n</tool_call>")
        text = "".join(call)
        mutation = rng.random()
        if mutation < 0.3:
            text = text[: rng.randint(0, len(text))]  # truncated anywhere
        elif mutation < 0.5:
            cut = rng.randint(0, len(text))
            text = text[:cut] + rng.choice(FRAGMENTS) + text[cut:]
        elif mutation < 0.6:
            text = text.replace(rng.choice(["</parameter>", "</function>", "</tool_call>", ">"]), "", 1)
        parts.append(text)
    return rng.choice(["", "Let me try.\n", "<think>hmm</think>\n"]) + "\n".join(parts)


class FuzzEngine:
    name = "fuzz"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def complete(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], *, on_token=None
    ) -> Turn:
        raw = _malformed_turn(self.rng)
        parsed = parse_turn(raw, tools)
        return Turn(text=parsed.text, reasoning=parsed.reasoning, tool_calls=parsed.tool_calls, raw=raw)

    def close(self) -> None:
        pass


def test_thousands_of_malformed_turns(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a.py").write_text("def f():\n    return 1\n")
    settings = SandboxSettings(image=SANDBOX_IMAGE, default_timeout=2)
    with DockerSandbox(workspace, settings, "fuzz") as sandbox:
        ctx = ToolContext(workspace=workspace, sandbox=sandbox, diff=lambda path: "", command_timeout=2)
        loop = AgentLoop(
            FuzzEngine(seed=7), default_registry(), ctx, EventBus(), LoopLimits(max_steps=TURNS + 1)
        )
        loop.say("go", source="user")
        calls = answered = stops = 0
        for step in range(TURNS):
            try:
                loop.step("executor")
            except LimitReached as stop:  # designed control flow: "stuck" ends a run
                assert str(stop).startswith("stuck:")
                stops += 1
                loop.recovery = Recovery(None, loop.bus)
            new = loop.messages  # compaction may have rewritten older messages
            turn = max(i for i, m in enumerate(new) if m["role"] == "assistant")
            turn_calls = new[turn].get("tool_calls", [])
            answers = [m for m in new[turn + 1 :] if m["role"] == "tool"]
            assert [a["tool_call_id"] for a in answers] == [c["id"] for c in turn_calls]
            assert all(a["content"].strip() for a in answers)
            # Through the faithful template (Jinja only), as the model would see it: every answer
            # verbatim. The whole history now and then; the latest turn every time.
            recent = new if step % 250 == 0 else [new[0], new[1], *new[turn:]]
            rendered = render_chat(for_chat_template(recent, verbatim=True), TOOLS)
            for answer in answers:
                assert f"<tool_response>\n{answer['content']}\n</tool_response>" in rendered
            calls += len(turn_calls)
            answered += len(answers)
        assert calls == answered and calls > TURNS  # most turns carry at least one call
        assert stops < TURNS / 20
