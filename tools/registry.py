"""Tools as (pydantic argument model, function) pairs; the registry validates and dispatches calls.

Every problem a model can fix comes back as an Observation with ok=False; dispatch never raises
for those. Unknown errors propagate: they are bugs, recorded by the session and re-raised.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from qcode.agent.contracts import Effect, Observation, PlanStep, Sandbox, ToolCall
from qcode.agent.exceptions import RecoverableError
from qcode.agent.policy import Request
from qcode.tools.checks import ChangeChecker
from rapidfuzz import process

__all__ = ["OBSERVATION_LIMIT", "Approver", "Tool", "ToolContext", "ToolRegistry", "cap_text"]

Approver = Callable[[Request], "str | None"]
"""Asked before a validated call runs (with what its tool declares): None approves, a string rejects
with that reason. What asks is `qcode.agent.policy.needs_approval`."""


@dataclass
class ToolContext:
    """What a tool may touch: the workspace on the host, the sandbox, and the run's plan."""

    workspace: Path
    sandbox: Sandbox
    diff: Callable[[str | None], str]
    """The work so far against the base commit (host-side git)."""
    command_timeout: float = 120.0
    plan: list[PlanStep] = field(default_factory=list)
    approve: Approver | None = None
    checker: ChangeChecker = field(default_factory=ChangeChecker)
    """Diagnostics after changes, and the problems it remembers per edited file."""
    guard: Callable[[], AbstractContextManager[None]] = nullcontext
    """Entered around every tool that reads or writes the workspace from the host: the session sets
    it to the sandbox's freeze, so no sandbox process can swap a path while the host follows it."""


OBSERVATION_LIMIT = 250_000
"""Characters of one observation's text (and of each string in its data), whatever the tool."""


ToolFunction = Callable[[Any, ToolContext], Observation]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    run: ToolFunction
    effect: Effect = "exec"
    """Declared by each tool; unknown tools count as running commands (the most careful choice)."""
    in_sandbox: bool = False
    """Runs in the sandbox (shell), touches no workspace file, or freezes the sandbox itself around
    its host-side file work (edits, whose lint tier must run in the live sandbox afterwards): the
    registry never freezes around it."""
    sandboxed_command: bool = False
    """Its `command` argument is a bash command run in the sandbox (shell): approval policy may let
    read-only commands through (agent/policy.is_safe_command)."""

    def schema(self) -> dict[str, Any]:
        """OpenAI function-tool schema; the chat template renders it for the model."""
        parameters = self.args.model_json_schema()
        parameters.pop("title", None)
        for prop in parameters.get("properties", {}).values():
            prop.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._schemas = {name: tool.schema() for name, tool in self._tools.items()}  # asked every step

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def effect_of(self, name: str) -> Effect:
        """The tool's declared effect; a tool this registry does not hold counts as running commands."""
        tool = self._tools.get(name)
        return tool.effect if tool is not None else "exec"

    def request(self, call: ToolCall) -> Request:
        """What approval policy is asked about this call."""
        tool = self._tools.get(call.name)
        if tool is None:
            return Request(call, "exec")
        return Request(call, tool.effect, tool.sandboxed_command)

    def schemas(self) -> list[dict[str, Any]]:
        """The tools' schemas (shared: callers read them, never change them)."""
        return list(self._schemas.values())

    def dispatch(self, call: ToolCall, ctx: ToolContext) -> Observation:
        started = time.monotonic()
        waited: list[float] = []
        observation = self._dispatch(call, ctx, waited)
        # A person deciding is not tool time: the duration counts the tool's own run only.
        observation.data.setdefault("duration", round(time.monotonic() - started - sum(waited), 4))
        return observation

    def _dispatch(self, call: ToolCall, ctx: ToolContext, waited: list[float]) -> Observation:
        if call.problem:
            return Observation(ok=False, text=call.problem, data={"error": "malformed_call"})
        tool = self._tools.get(call.name)
        if tool is None:
            return Observation(ok=False, text=self._unknown(call.name), data={"error": "unknown_tool"})
        try:
            args = tool.args.model_validate(call.arguments)
        except ValidationError as err:
            return Observation(ok=False, text=self._invalid(tool, err), data={"error": "invalid_arguments"})
        asked = time.monotonic()
        refusal = ctx.approve(self.request(call)) if ctx.approve is not None else None
        waited.append(time.monotonic() - asked)
        if refusal is not None:
            return Observation(
                ok=False,
                text=f"The user rejected this call: {refusal}. Do not retry it "
                "unchanged; adjust your approach or ask for guidance in your reply.",
                data={"error": "rejected"},
            )
        try:
            with nullcontext() if tool.in_sandbox else ctx.guard():
                observation = tool.run(args, ctx)
        except RecoverableError as err:
            return Observation(ok=False, text=str(err), data={"error": type(err).__name__})
        if call.repaired:
            observation.text = f"(note: your call was repaired: {call.repaired})\n{observation.text}"
        return _capped(observation)

    def _unknown(self, name: str) -> str:
        best = process.extractOne(name, self.names)
        hint = f" Did you mean `{best[0]}`?" if best and best[1] >= 60 else ""
        return f"There is no tool named `{name}`.{hint} Available tools: {', '.join(self.names)}."

    def _invalid(self, tool: Tool, err: ValidationError) -> str:
        problems = []
        for item in err.errors():
            where = ".".join(str(part) for part in item["loc"]) or "(arguments)"
            problems.append(f"- `{where}`: {item['msg']}")
        parameters = self._schemas[tool.name]["function"]["parameters"]
        # Arguments as a JSON object, in no engine's call syntax: the chat template shows the model
        # its own format (Qwen XML for the embedded engine, native function calls for `openai`).
        example = json.dumps({name: f"<{name}>" for name in parameters.get("required", [])})
        return (
            f"Invalid arguments for `{tool.name}`:\n"
            + "\n".join(problems)
            + f"\nCall `{tool.name}` with arguments like (required parameters shown): {example}"
            + f"\nParameters: {json.dumps(parameters.get('properties', {}))}"
        )


def _capped(observation: Observation) -> Observation:
    """The hard cap behind every tool's own: head and tail of an over-long text are kept."""
    observation.text = cap_text(observation.text)
    for key, value in observation.data.items():
        if isinstance(value, str) and len(value) > OBSERVATION_LIMIT:
            observation.data[key] = cap_text(value)
    return observation


def cap_text(text: str, limit: int = OBSERVATION_LIMIT) -> str:
    if len(text) <= limit:
        return text
    half = (limit - 100) // 2  # room for the note: the result is never longer than `limit`
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"
