"""qcode as an Agent Client Protocol agent: one qcode Session per ACP session, as `qcode fix` runs it.

Each prompt is a run of the session (a follow-up after the first), committed on the session's
branch in the user's repository; the editor's files are never written, the user merges the branch.
The loop runs on a worker thread; its events reach the client through one queue per session, so
updates keep their order and a permission request follows the tool call it is about.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acp import PROTOCOL_VERSION, RequestError, update_agent_message_text
from acp.schema import (
    AgentCapabilities,
    Implementation,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
)

from qcode.acp.permissions import make_gate
from qcode.acp.updates import UpdateMapper
from qcode.agent.contracts import Engine
from qcode.agent.events import EventBus
from qcode.agent.exceptions import UserError
from qcode.agent.policy import ApprovalMode
from qcode.images import MAX_IMAGE_BYTES, ImageStore, VisionEngine
from qcode.stream_json import event_record

if TYPE_CHECKING:  # the session's modules (git, Docker) load when the first session opens
    from qcode.acp.permissions import Gate
    from qcode.agent.session import RunResult, Session

__all__ = ["QcodeAgent"]

CLOSE_WAIT = 60.0
"""Seconds `close` waits for a cancelled run to stop before removing its sandbox anyway."""
_log = logging.getLogger("qcode.acp")
MAX_SESSIONS = 16
"""Sessions one `qcode acp` process keeps open (each holds a sandbox)."""
MAX_PROMPT_CHARS = 200_000
"""A prompt's text with the files the editor embedded in it."""


@dataclass
class _Live:
    """One ACP session: the qcode Session, its approval gate, and the queue of updates to send."""

    session: Session
    gate: Gate
    repo: Path
    mapper: UpdateMapper
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    sender: asyncio.Task[None] | None = None
    running: bool = False


class QcodeAgent:
    """The ACP `Agent`: initialize, new/load session, prompt, cancel."""

    def __init__(self, flags: dict[str, Any], approval: ApprovalMode | None = None) -> None:
        self.flags, self.approval = flags, approval
        self._conn: Any = None
        self._engine: Engine | None = None
        self._running = threading.Lock()
        self._sessions: dict[str, _Live] = {}
        self._images: dict[str, ImageStore] = {}
        """Each session's images; the shared engine sends those of the session it is serving."""

    def on_connect(self, conn: Any) -> None:
        self._conn = conn

    async def initialize(self, protocol_version: int, **_: Any) -> InitializeResponse:
        from importlib.metadata import version

        return InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_capabilities=AgentCapabilities(
                load_session=True, prompt_capabilities=PromptCapabilities(image=self._takes_images())
            ),
            agent_info=Implementation(name="qcode", title="qcode", version=version("qcode")),
        )

    async def authenticate(self, method_id: str, **_: Any) -> None:
        return None  # local: nothing to sign in to

    async def new_session(self, cwd: str, **_: Any) -> NewSessionResponse:
        live = await self._open(Path(cwd), resume=None)
        return NewSessionResponse(session_id=live.session.id)

    async def load_session(self, cwd: str, session_id: str, **_: Any) -> LoadSessionResponse:
        """Resume the session from its trajectory; the client first gets its history as updates."""
        from qcode.agent.trajectory import read_trajectory

        live = await self._open(Path(cwd), resume=session_id)
        mapper = UpdateMapper(live.repo, replay=True)
        for record in read_trajectory(live.session.trajectory_path):
            for update in mapper(record):
                await self._conn.session_update(session_id=session_id, update=update)
        return LoadSessionResponse()

    async def prompt(self, session_id: str, prompt: list[Any], **_: Any) -> PromptResponse:
        live = self._live(session_id)
        if live.running:
            raise RequestError.invalid_request({"message": "a prompt is already running in this session"})
        text = _prompt_text(prompt)
        if not text.strip():
            raise RequestError.invalid_params({"message": "the prompt has no text"})
        if len(text) > MAX_PROMPT_CHARS:  # embedded files come whole: bounded like the TUI's @files
            raise RequestError.invalid_params(
                {"message": f"the prompt is over {MAX_PROMPT_CHARS} characters"}
            )
        store = self._images[session_id]
        try:
            images = _prompt_images(prompt)
            if images and not self._takes_images():
                raise UserError(
                    "this engine takes no images; serve the model with `vllm serve` and use openai"
                )
            store.attach_bytes(images)
        except UserError as err:
            raise RequestError.invalid_params({"message": str(err)}) from err
        live.session.cancelled.clear()  # a cancel from now on counts, even before the run starts
        live.running = True
        try:
            result = await asyncio.to_thread(self._run, live, store, text)
        except Exception as err:  # the run's own notice already went out as an update
            _log.error("the run failed: %s", err, exc_info=True)
            raise RequestError.internal_error({"message": str(err)[:500]}) from err
        finally:
            live.running = False
            await live.queue.join()  # every update of the turn is out before the answer
        cancelled = result is None or live.session.cancelled.is_set()
        outcome = "\n\ncancelled before it started" if result is None else _outcome(result)
        await self._conn.session_update(session_id=session_id, update=update_agent_message_text(outcome))
        return PromptResponse(stop_reason="cancelled" if cancelled else "end_turn")

    async def cancel(self, session_id: str, **_: Any) -> None:
        live = self._sessions.get(session_id)
        if live is not None and live.running:
            live.session.cancel()  # kills the running command; the loop stops at its next check
            live.gate.release("the user cancelled the turn")

    async def close(self) -> None:
        """Close every session (sandboxes removed, last state kept for a load) and the engine. A
        prompt still running (the editor went away mid-turn) is stopped first, as a cancel would."""
        for live in self._sessions.values():
            live.session.cancel()
            live.gate.release("the editor closed the connection", close=True)
        if await asyncio.to_thread(self._running.acquire, True, CLOSE_WAIT):  # the run has stopped
            self._running.release()
        for live in list(self._sessions.values()):
            if live.sender is not None:
                live.sender.cancel()
            await asyncio.to_thread(live.session.close)
        self._sessions.clear()
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)
            self._engine = None

    # -- sessions ------------------------------------------------------------------------------

    def _run(self, live: _Live, store: ImageStore, text: str) -> RunResult | None:
        """One prompt on the worker thread; the shared engine carries this session's images. None:
        the prompt was cancelled while it waited for another session's prompt."""
        assert isinstance(self._engine, VisionEngine)
        with self._running:  # the process's one engine serves one prompt at a time
            if live.session.cancelled.is_set():
                return None  # `Session.run` would clear the cancel and run the whole turn
            self._engine.store = store
            return live.session.run(text)

    def _takes_images(self) -> bool:
        """Images are offered to editors only where they work: the openai engine (and replays)."""
        from qcode.config import load_settings

        engine = self.flags.get("engine") or load_settings(self.flags, None).settings.engine
        return not str(engine).startswith("vllm")

    def _live(self, session_id: str) -> _Live:
        live = self._sessions.get(session_id)
        if live is None:
            raise RequestError.invalid_params({"message": f"no open session {session_id!r}; load it first"})
        return live

    async def _open(self, repo: Path, resume: str | None) -> _Live:
        if resume is not None and resume in self._sessions:
            raise RequestError.invalid_request({"message": f"session {resume} is already open"})
        if len(self._sessions) >= MAX_SESSIONS:
            raise RequestError.invalid_request({"message": f"at most {MAX_SESSIONS} open sessions"})
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        bus = EventBus()
        gate = make_gate(
            self._approval_mode(repo), lambda request, answer: self._ask(queue, loop, request.call, answer)
        )
        try:
            session = await asyncio.to_thread(self._new_session, repo, bus, gate, resume)
        except UserError as err:
            raise RequestError.invalid_params({"message": str(err)}) from err
        root = session.repo.root
        live = _Live(session=session, gate=gate, repo=root, mapper=UpdateMapper(root), queue=queue)
        bus.subscribe(lambda event: self._forward(loop, live, event))
        live.sender = asyncio.create_task(self._send(live))
        self._sessions[session.id] = live
        return live

    def _new_session(self, repo: Path, bus: EventBus, gate: Gate, resume: str | None) -> Session:
        from qcode.agent.engines import make_engine
        from qcode.config import load_settings
        from qcode.runner import new_session, prepare_sandbox

        settings = load_settings(self.flags, repo if repo.is_dir() else None).settings
        prepare_sandbox(settings, log=_log.info)
        if self._engine is None:  # one engine for every session of this process
            self._engine = VisionEngine(make_engine(settings.engine, settings))
        session = new_session(settings, repo, bus=bus, engine=self._engine, approver=gate, resume=resume)
        self._images[session.id] = ImageStore(session.folder)
        return session

    def _approval_mode(self, repo: Path) -> ApprovalMode:
        if self.approval is not None:
            return self.approval
        from qcode.config import load_settings

        return load_settings(self.flags, repo if repo.is_dir() else None).settings.approval

    # -- the bridge from the loop's thread ---------------------------------------------------

    def _forward(self, loop: asyncio.AbstractEventLoop, live: _Live, event: Any) -> None:
        """On the loop's worker thread: map the event and queue its updates for the sender."""
        record = event_record(event)
        if record is None:
            return
        for update in live.mapper(record):
            loop.call_soon_threadsafe(live.queue.put_nowait, update)

    def _ask(
        self, queue: asyncio.Queue[Any], loop: asyncio.AbstractEventLoop, call: Any, answer: Future[Any]
    ) -> None:
        """On the worker thread: queue the permission request behind the updates before it."""
        loop.call_soon_threadsafe(queue.put_nowait, (call, answer))

    async def _send(self, live: _Live) -> None:
        from qcode.acp.permissions import ask_client

        while True:
            item = await live.queue.get()
            try:
                if isinstance(item, tuple):  # a permission request: answered on its own task
                    call, answer = item
                    acp_id = live.mapper.acp_id(call.id)
                    asyncio.create_task(ask_client(self._conn, live.session.id, acp_id, call, answer))
                else:
                    await self._conn.session_update(session_id=live.session.id, update=item)
            except Exception as err:  # a client that went away: the run goes on, unseen
                _log.warning("could not send an update: %s", err)
            finally:
                live.queue.task_done()


def _prompt_text(prompt: list[Any]) -> str:
    """The prompt's text; resource links and embedded text resources become lines the model reads."""
    parts: list[str] = []
    for block in prompt:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource_link":
            parts.append(f"(file: {block.uri})")
        elif kind == "resource" and hasattr(block.resource, "text"):
            parts.append(f"(file: {block.resource.uri})\n{block.resource.text}")
    return "\n\n".join(parts)


def _prompt_images(prompt: list[Any]) -> list[bytes]:
    """The prompt's image blocks as bytes; a block too large to be a 10 MB image is refused before
    it is decoded."""
    images = []
    for block in prompt:
        if getattr(block, "type", None) == "image" and getattr(block, "data", None):
            if len(block.data) > MAX_IMAGE_BYTES * 4 // 3 + 4:
                raise UserError("a pasted image is over 10 MB; attach a smaller screenshot")
            try:
                images.append(base64.b64decode(block.data, validate=True))
            except ValueError:
                raise UserError("a pasted image is not valid base64") from None
    return images


def _outcome(result: RunResult) -> str:
    line = f"\n\n{result.status}: {result.reason}"
    if result.branch and result.commit:
        line += f"\nbranch {result.branch} · commit {result.commit[:12]} (your files are untouched; "
        line += f"review with `git diff HEAD...{result.branch}`, then merge it)"
    return line
