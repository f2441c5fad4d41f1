"""Hooks: the user's own commands around a session, Claude Code's conventions where they fit.

Declared only in the user's config (`[[hooks.pre_tool]]` …); a repository cannot add or change
them (its `.qcode.toml` may not set `hooks`, see qcode/config.py). Each hook is a shell command run
on the host as the user, with the event as JSON on stdin and a timeout. Exit code 2 means "no":
`pre_tool` blocks the call and its stderr is what the model reads; `stop` refuses the `finish`
and its stderr goes back to the model (at most `MAX_STOP_REFUSALS` times a run). `post_tool`
output is appended to the observation. Other failures become notices; the run goes on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from qcode.agent.contracts import Observation, ToolCall, printable
from qcode.agent.exceptions import UserError
from qcode.tools.builtin import FINISH
from qcode.tools.registry import Tool, ToolContext, ToolRegistry

__all__ = ["HookResult", "HookSpec", "HookedRegistry", "Hooks", "HooksConfig", "load_hooks", "run_hook"]

MAX_STOP_REFUSALS = 3
OUTPUT_LIMIT = 8000
"""Bytes kept of a hook's stdout and of its stderr (the rest is read and dropped)."""


class HookSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str
    """A shell command; the event arrives as JSON on its stdin."""
    matcher: str | None = None
    """pre_tool/post_tool: a regular expression the whole tool name must match (default: every tool)."""
    timeout: float = Field(30.0, gt=0, le=600)

    @field_validator("matcher")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"not a regular expression ({err})") from None
        return value

    def matches(self, tool: str) -> bool:
        return self.matcher is None or re.fullmatch(self.matcher, tool) is not None


class HooksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_start: list[HookSpec] = Field(default_factory=list)
    pre_tool: list[HookSpec] = Field(default_factory=list)
    post_tool: list[HookSpec] = Field(default_factory=list)
    stop: list[HookSpec] = Field(default_factory=list)


def load_hooks(tables: dict[str, Any], source: str) -> HooksConfig:
    try:
        return HooksConfig.model_validate(tables.get("hooks", {}))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{source}: hooks.{where}: {first['msg']}") from None


class HookResult(BaseModel):
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False


def _drain(pipe: Any, keep: bytearray) -> None:
    """Read to EOF (so the hook never blocks on a full pipe), keeping only the first bytes."""
    with pipe:
        while chunk := pipe.read(4096):
            if len(keep) < OUTPUT_LIMIT:
                keep.extend(chunk[: OUTPUT_LIMIT - len(keep)])


def _feed(pipe: Any, data: bytes) -> None:
    try:
        with pipe:
            pipe.write(data)
    except OSError:  # the hook need not read its stdin
        pass


def run_hook(spec: HookSpec, event: dict[str, Any], cwd: Path) -> HookResult:
    """Run one hook with bounded output and a hard timeout (its whole process group is killed)."""
    proc = subprocess.Popen(
        spec.command,
        shell=True,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "QCODE_HOOK_EVENT": str(event.get("event", ""))},
    )
    out, err = bytearray(), bytearray()
    threads = [
        threading.Thread(target=_feed, args=(proc.stdin, json.dumps(event).encode()), daemon=True),
        threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True),
    ]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        proc.wait(timeout=spec.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for thread in threads:
        thread.join(timeout=2)  # a grandchild that escaped the group may hold a pipe: do not wait on it
    return HookResult(
        exit_code=None if timed_out else proc.returncode,
        stdout=out.decode("utf-8", "replace").strip(),
        stderr=err.decode("utf-8", "replace").strip(),
        timed_out=timed_out,
    )


class Hooks:
    """The configured hooks of one session, with the facts every event carries."""

    def __init__(
        self, config: HooksConfig, cwd: Path, base_event: dict[str, Any], notify: Callable[[str], None]
    ) -> None:
        self.config, self.cwd, self.base_event, self.notify = config, cwd, base_event, notify
        self.stop_refusals = 0

    def _run(self, event: str, spec: HookSpec, **fields: Any) -> HookResult:
        result = run_hook(spec, {**self.base_event, "event": event, **fields}, self.cwd)
        if result.timed_out:
            self.notify(f"{event} hook `{spec.command}` timed out after {spec.timeout:g}s; ignored")
        elif result.exit_code not in (0, 2):
            self.notify(f"{event} hook `{spec.command}` exited {result.exit_code}: {result.stderr[:300]}")
        return result

    def session_start(self) -> str:
        """The hooks' stdout, for the model's first message (context such as "use make test")."""
        outputs = [self._run("session_start", spec).stdout for spec in self.config.session_start]
        return "\n".join(text for text in outputs if text)

    def pre_tool(self, call: ToolCall) -> str | None:
        """The reason the call is blocked (a hook exited 2), or None."""
        for spec in self.config.pre_tool:
            if spec.matches(call.name):
                result = self._run("pre_tool", spec, tool=call.name, arguments=call.arguments)
                if result.exit_code == 2:
                    return result.stderr or f"blocked by the pre_tool hook `{spec.command}`"
        return None

    def post_tool(self, call: ToolCall, observation: Observation) -> str:
        extra: list[str] = []
        for spec in self.config.post_tool:
            if spec.matches(call.name):
                result = self._run(
                    "post_tool",
                    spec,
                    tool=call.name,
                    arguments=call.arguments,
                    ok=observation.ok,
                    observation=observation.text[:OUTPUT_LIMIT],
                )
                text = result.stderr if result.exit_code == 2 else result.stdout
                if text:
                    extra.append(text)
        return "\n".join(extra)

    def stop(self, summary: str) -> str | None:
        """Why the run may not finish yet (a stop hook exited 2), or None; at most 3 times a run."""
        if self.stop_refusals >= MAX_STOP_REFUSALS:
            return None
        for spec in self.config.stop:
            result = self._run("stop", spec, summary=summary, stop_hook_active=self.stop_refusals > 0)
            if result.exit_code == 2:
                self.stop_refusals += 1
                return result.stderr or f"the stop hook `{spec.command}` asked you to continue"
        return None


class HookedRegistry(ToolRegistry):
    """A registry whose single dispatch point runs the hooks around every call."""

    def __init__(self, tools: Iterable[Tool], hooks: Hooks) -> None:
        super().__init__(tools)
        self.hooks = hooks

    def dispatch(self, call: ToolCall, ctx: ToolContext) -> Observation:
        # Hooks run on the host and are handed the workspace's path: the sandbox stays frozen while
        # they run, so no process in it can swap a file for a link to a host file under them.
        config = self.hooks.config
        with _frozen_for(ctx, config.pre_tool):
            reason = self.hooks.pre_tool(call)
        if reason is not None:
            return Observation(
                ok=False,
                text=f"A pre_tool hook blocked this call: {printable(reason)}",
                data={"error": "blocked_by_hook"},
            )
        observation = super().dispatch(call, ctx)
        if call.name == FINISH and observation.ok:
            with _frozen_for(ctx, config.stop):
                refusal = self.hooks.stop(str(observation.data.get("finish", "")))
            if refusal is not None:
                return Observation(
                    ok=False,
                    text=f"Not finished: a stop hook says: {printable(refusal)}\nContinue the task, "
                    "then call finish again.",
                    data={"error": "stop_hook"},
                )
        with _frozen_for(ctx, config.post_tool):
            extra = self.hooks.post_tool(call, observation)
        if extra:
            observation.text = f"{observation.text}\n[post_tool hook]\n{printable(extra)}"
        return observation


def _frozen_for(ctx: ToolContext, hooks: list[HookSpec]) -> AbstractContextManager[None]:
    """The sandbox frozen while `hooks` run (none set: nothing to freeze for)."""
    return ctx.guard() if hooks else nullcontext()
