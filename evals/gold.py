"""The `gold` engine: a task's gold patch acted out as a plausible agent trajectory.

plan → reproduce (run the failing tests) → search → read → edit_file per hunk → run the tests →
plan done → finish. Every turn is raw Qwen3 XML from `render_tool_call`, so the real parser,
validation, tolerant edits and recovery are exercised. With a FaultInjector, a recoverable fault
comes first on some turns and the correct call follows.

It proves the harness, not a model: reports label its numbers as a harness check.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Sequence
from typing import Any

from qcode.agent.contracts import Message, TokenCallback, Turn
from qcode.agent.engines.estimate import UsageEstimator
from qcode.agent.engines.stream_split import split_whole
from qcode.agent.exceptions import EngineError
from qcode.agent.qwen_xml import parse_turn, render_tool_call
from qcode.evals.faults import Fault, FaultInjector
from qcode.evals.tasks import Task
from unidiff.patch import PatchSet

__all__ = ["GOLD_ENGINE_NAME", "GoldEngine", "gold_calls"]

GOLD_ENGINE_NAME = "gold"
Call = tuple[str, dict[str, Any], str]
"""(tool, arguments, the sentence the 'model' says before the call)."""


def _plan(active: int) -> list[dict[str, str]]:
    steps = ["Reproduce the failure", "Find the faulty code", "Fix it", "Run the tests again"]
    return [
        {"step": step, "status": "done" if i < active else "in_progress" if i == active else "pending"}
        for i, step in enumerate(steps)
    ]


def _test_call(task: Task, why: str) -> Call:
    tests = " ".join(shlex.quote(test) for test in task.FAIL_TO_PASS[:5])
    return "shell", {"command": f"{task.test_command} -q {tests}".strip(), "timeout": 600}, why


def _edits(patch: str) -> list[Call]:
    calls: list[Call] = []
    for patched in PatchSet(patch):
        path = patched.path
        if patched.is_removed_file:
            calls.append(
                ("shell", {"command": f"rm {shlex.quote(path)}"}, f"`{path}` is not needed any more.")
            )
            continue
        if patched.is_added_file:
            content = "".join(line.value for hunk in patched for line in hunk if line.is_added)
            calls.append(("write_file", {"path": path, "content": content}, f"Creating `{path}`."))
            continue
        for hunk in patched:
            old = "".join(line.value for line in hunk if line.is_context or line.is_removed)
            new = "".join(line.value for line in hunk if line.is_context or line.is_added)
            calls.append(("edit_file", {"path": path, "old_text": old, "new_text": new}, f"Fixing `{path}`."))
    return calls


def _locate(patch: str) -> list[Call]:
    """A search for a name on the first changed line, then a read around the first hunk."""
    patched = next((p for p in PatchSet(patch) if not p.is_added_file), None)
    if patched is None or not len(patched):
        return []
    hunk = patched[0]
    changed = next((line.value for line in hunk if line.is_removed or line.is_added), "") or hunk[0].value
    names = sorted(re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", changed), key=len, reverse=True)
    calls: list[Call] = []
    if names:
        calls.append(
            (
                "search",
                {"pattern": rf"\b{names[0]}\b", "path": patched.path},
                f"Looking for where `{names[0]}` is used.",
            )
        )
    start = max(1, hunk.source_start - 10)
    calls.append(
        (
            "read_file",
            {
                "path": patched.path,
                "start_line": start,
                "end_line": hunk.source_start + hunk.source_length + 10,
            },
            f"Reading the code around line {hunk.source_start}.",
        )
    )
    return calls


def gold_calls(task: Task) -> list[Call]:
    """The whole scripted trajectory, without faults."""
    if not task.patch.strip():
        raise EngineError(f"task {task.instance_id} has no gold patch; the gold engine needs one")
    calls: list[Call] = [("update_plan", {"plan": _plan(0)}, "Let me plan.")]
    if task.FAIL_TO_PASS:
        calls.append(_test_call(task, "First, reproduce the failure."))
    calls += [
        ("update_plan", {"plan": _plan(1)}, "Reproduced."),
        *_locate(task.patch),
        *_edits(task.patch),
        ("update_plan", {"plan": _plan(3)}, "Edited; now verify."),
    ]
    if task.FAIL_TO_PASS:
        calls.append(_test_call(task, "Running the failing tests again."))
    calls.append(
        ("finish", {"summary": "Fixed the faulty code and checked it with the failing tests."}, "Done.")
    )
    return calls


class GoldEngine:
    """An Engine (see agent/contracts.py) that replays `gold_calls(task)`, optionally with faults."""

    def __init__(self, task: Task, faults: FaultInjector | None = None) -> None:
        self.name = GOLD_ENGINE_NAME
        self.calls = gold_calls(task)
        self.faults = faults
        self.faults_injected: list[str] = []
        self._next = 0
        self._pending: Fault | None = None
        self._usage = UsageEstimator()

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        *,
        on_token: TokenCallback | None = None,
    ) -> Turn:
        started = time.monotonic()
        after_fault, self._pending = self._pending, None
        if (
            after_fault is not None
            and after_fault.may_succeed
            and _last_tool_text(messages).startswith("Edited ")
        ):
            self._next += 1  # tolerant matching applied the drifted edit: do not repeat it
        if self._next >= len(self.calls):
            raise EngineError("the gold trajectory is over, but the run did not finish")
        name, arguments, say = self.calls[self._next]
        # After a fault comes the correct call, never a second fault.
        fault = (
            self.faults.maybe(name, arguments) if self.faults is not None and after_fault is None else None
        )
        if fault is not None:
            self._pending = fault
            self.faults_injected.append(fault.kind)
            raw = f"<think>\n{say}\n</think>\n\n{fault.raw}"
        else:
            self._next += 1
            raw = f"<think>\n{say}\n</think>\n\n{render_tool_call(name, arguments)}"
        parsed = parse_turn(raw, tools)
        if on_token is not None:  # split by channel, as a real engine streams it
            for text, channel in split_whole(raw):
                on_token(text, channel)
        return Turn(
            text=parsed.text,
            reasoning=parsed.reasoning,
            tool_calls=parsed.tool_calls,
            raw=raw,
            usage=self._usage.measure(messages, raw),
            duration=time.monotonic() - started,
            finish_reason="stop",
        )

    def close(self) -> None:
        """Nothing to release."""


def _last_tool_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "tool":
            return str(message.get("content") or "")
    return ""
