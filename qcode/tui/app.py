"""`qcode tui`: an interactive session. The agent runs in an exclusive thread worker; the loop's events
reach the UI only as messages, and the approver blocks that worker until the person answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from qcode.agent.contracts import Engine
from qcode.agent.events import (
    EventBus,
    ModelTurn,
    Notice,
    ObservationMade,
    PhaseChanged,
    PlanUpdated,
    RolledBack,
    RunFinished,
    SessionStarted,
    TokenStreamed,
    ToolCalled,
    TurnStarted,
)
from qcode.agent.exceptions import error_line
from qcode.agent.policy import Request
from qcode.agent.session import Session
from qcode.config import Settings
from qcode.tui import extras, history, sending
from qcode.tui.approval import ApprovalGate, Decision
from qcode.tui.completion import list_files
from qcode.tui.help import HelpScreen
from qcode.tui.prompt import Completions, PromptInput
from qcode.tui.screens import ApprovalScreen, DiffScreen, SessionsScreen
from qcode.tui.slash import command_names
from qcode.tui.view_model import RunStats, clock_text, undo_words
from qcode.tui.widgets import Conversation, PlanPanel, StatusBar, TopBar

__all__ = ["QcodeApp"]


class QcodeApp(App[int]):
    """Type a task, watch the plan, the model's text and every tool call; steer with follow-ups."""

    CSS_PATH = "app.tcss"
    TITLE = "qcode"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("escape", "interrupt", "Interrupt"),
        Binding("ctrl+r", "review_diff", "Diff"),
        Binding("ctrl+z", "undo", "Undo", priority=True),  # over the editor's own text undo
        Binding("ctrl+o", "resume", "Sessions"),
        Binding("ctrl+l", "clear_screen", "Clear", show=False),
        Binding("f1", "show_help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    state: reactive[str] = reactive("starting")
    """starting → loading → idle ⇄ running (asking) → closing; or error when the engine failed."""

    class LoopEvent(Message):
        """One of the loop's events, posted from the worker thread."""

        def __init__(self, event: object) -> None:
            super().__init__()
            self.event = event

    class ApprovalNeeded(Message):
        """The approver (worker thread) waits on `future` until the person answers."""

        def __init__(self, request: Request, future: Future[Decision]) -> None:
            super().__init__()
            self.request, self.future = request, future

    class SessionReady(Message):
        def __init__(self, session: Session) -> None:
            super().__init__()
            self.session = session

    def __init__(
        self,
        settings: Settings,
        repo: Path,
        engine: Engine | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.settings, self.repo, self.clock = settings, repo, clock
        self._engine = engine
        self.bus = EventBus()
        self.bus.subscribe(self._forward)
        self.gate = ApprovalGate(settings.approval, self._ask)
        self.session: Session | None = None
        self.session_id: str | None = None
        self.stats = RunStats()
        self._session_future: Future[Session] = Future()
        self._started = clock()
        self._has_run = False

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar(id="top")
        with Horizontal(id="body"):
            yield Conversation(id="conversation")
            yield PlanPanel(id="plan")
        yield StatusBar(id="status")
        yield Completions(id="completions")
        prompt = PromptInput(commands=lambda: command_names(self.repo), id="prompt")
        prompt.placeholder = "Describe a task and press Enter (Shift+Enter: new line · F1: help)"
        yield prompt
        yield Footer()

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    def note(self, text: str, level: str = "info") -> None:
        self.conversation.add_note(text, level)

    def on_mount(self) -> None:
        top = self.query_one(TopBar)
        top.repo, top.approval = self.repo.resolve().name, self.settings.approval
        self.query_one(StatusBar).model = extras.model_label(self.settings, self._engine)
        self.prompt.focus()
        self.set_interval(1.0, self._tick)
        self.state = "loading"
        self._prepare()

    def _forward(self, event: object) -> None:
        """Loop events reach the UI thread only as messages."""
        self.post_message(self.LoopEvent(event))

    def watch_state(self, state: str) -> None:
        # (`App.is_mounted` asks about a widget: as a guard it was always true.)
        bars = self.query(StatusBar) if self.screen_stack else ()
        for bar in bars:  # none before the first compose
            bar.state = state
            bar.elapsed = clock_text(self.clock() - self._started)

    def _tick(self) -> None:
        if self.state in ("loading", "running", "asking", "stopping", "closing"):
            self.query_one(StatusBar).elapsed = clock_text(self.clock() - self._started)

    # -- workers --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def _prepare(self, resume: str | None = None, fresh: bool = False) -> None:
        """Build the engine (minutes for a large model) and the session — a past one to `resume`,
        after closing the current one — off the UI thread."""
        try:
            if (resume is not None or fresh) and self.session is not None:
                self.session.close()
            engine = self._engine = self._engine or extras.build_engine(
                self.settings, lambda text: self.call_from_thread(self.note, text)
            )
            session = extras.open_session(
                self.settings, self.repo, self.bus, engine, self.gate, resume=resume
            )
        except BaseException as err:
            self._session_future.set_exception(err)
            raise
        self._session_future.set_result(session)
        self.post_message(self.SessionReady(session))

    @work(thread=True, exclusive=True, group="agent", exit_on_error=False)
    def _run(self, text: str) -> None:
        """One task or follow-up on the session, to its end (finish, a limit, Esc)."""
        self._session_future.result().run(text)

    @on(SessionReady)
    def _session_ready(self, message: SessionReady) -> None:
        self.session = message.session
        self.session_id = message.session.id
        if self.state == "loading":
            self.state = "idle"
        if message.session.resumed is not None:
            self._show_past(message.session)
        self._load_files()

    @work(group="past", exclusive=True)
    async def _show_past(self, session: Session) -> None:
        """The resumed session's conversation, rebuilt from its trajectory (read off the UI thread)."""
        events, cut = await asyncio.to_thread(history.past_events, session.trajectory_path)
        history.show_past(self, events, cut)

    @work(thread=True, group="files", exclusive=True, exit_on_error=False)
    def _load_files(self) -> None:
        """The files `@` offers: the session's workspace once it exists, else the repository."""
        session = self.session
        root = session.workspace.path if session and session.workspace.path.is_dir() else self.repo
        files = list_files(root)
        self.call_from_thread(setattr, self.prompt, "files", files)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group in ("engine", "agent"):
            error = event.worker.error
            if error is not None:
                self.query_one(Conversation).add_note(error_line(error), "error")
            self.state = "error" if event.worker.group == "engine" else "idle"
        elif event.state is WorkerState.SUCCESS and event.worker.group == "agent" and self.state != "closing":
            self.state = "idle"
            self._load_files()  # the run may have added files to offer after `@`

    # -- the loop's events ----------------------------------------------------------------------

    @on(LoopEvent)
    def _loop_event(self, message: LoopEvent) -> None:
        self.show_event(message.event)

    def show_event(self, event: object) -> None:
        """One loop event on screen; live events and a resumed session's past ones alike."""
        conversation = self.conversation
        match event:
            case SessionStarted() as event:
                self.session_id = event.session_id
                self.query_one(TopBar).branch = event.branch
            case TurnStarted() as event:
                conversation.turn(event.step)
                self.query_one(StatusBar).stats = self._stats_text(event.step)
            case TokenStreamed() as event:
                conversation.token(event.step, event.text, event.channel)
            case ModelTurn() as event:
                conversation.model_turn(event)
                self.stats.add_turn(event.step, event.usage, event.duration, event.time_to_first_token)
                self.query_one(StatusBar).stats = self.stats.text()
            case ToolCalled() as event:
                conversation.tool_called(event)
            case ObservationMade() as event:
                conversation.observed(event)
            case PlanUpdated() as event:
                self.query_one(PlanPanel).plan = tuple(event.plan)
            case PhaseChanged() as event:
                self.query_one(PlanPanel).phase = event.phase
            case Notice() as event:
                conversation.add_note(event.text, event.level)
            case RolledBack() as event:
                conversation.add_note(undo_words(event.number, event.step, event.diffstat))
            case RunFinished() as event:
                conversation.finished(event)

    def _stats_text(self, step: int) -> str:
        self.stats.step = step
        return self.stats.text()

    # -- approvals ------------------------------------------------------------------------------

    def _ask(self, request: Request, future: Future[Decision]) -> None:
        """Called by the gate on the worker thread; a closed app answers no."""
        if not self.post_message(self.ApprovalNeeded(request, future)) and not future.done():
            future.set_result(Decision.REJECT)

    @on(ApprovalNeeded)
    def _approval_needed(self, message: ApprovalNeeded) -> None:
        if message.future.done():  # answered already (Esc, quit)
            return
        card = self.query_one(Conversation).card(message.request.call.id)
        if card is not None:
            card.set_status("asking")
        self.state = "asking"

        def answer(decision: Decision | None) -> None:
            if not message.future.done():
                message.future.set_result(decision or Decision.REJECT)
            if card is not None:
                card.set_status("running")
            if self.state == "asking":
                self.state = "running"

        self.push_screen(ApprovalScreen(message.request), callback=answer)

    def _close_approval(self) -> None:
        if isinstance(self.screen, ApprovalScreen):
            self.pop_screen()

    # -- input and actions ----------------------------------------------------------------------

    @on(PromptInput.Submitted)
    def _submitted(self, event: PromptInput.Submitted) -> None:
        sending.send(self, event.prompt, event.text)

    def start_run(self, message: str) -> None:
        """Send `message` (a task or a follow-up) to the session's agent, in the agent worker."""
        self._started, self._has_run = self.clock(), True
        self.state = "running"
        self._run(message)

    @on(PromptInput.Offered)
    def _offered(self, event: PromptInput.Offered) -> None:
        self.query_one(Completions).show(event.completion)

    @on(PromptInput.HelpRequested)
    def _help_requested(self) -> None:
        self.action_show_help()

    def on_key(self, event: events.Key) -> None:
        sending.stray_key(self, event)

    def on_paste(self, event: events.Paste) -> None:
        sending.stray_paste(self, event)

    def action_show_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_clear_screen(self) -> None:
        self.conversation.clear()

    def action_interrupt(self) -> None:
        if self.state not in ("running", "asking") or self.session is None:
            return
        self.session.cancel()
        self.gate.release("the user interrupted the run")
        self._close_approval()
        self.state = "stopping"

    def action_review_diff(self) -> None:
        if self.session is None or not (self._has_run or self.session.resumed):
            self.notify("Nothing to review yet: start a task first.")
        elif self.state not in ("idle", "error"):
            self.notify("The diff opens between runs (Esc interrupts this one).", severity="warning")
        else:
            self._show_diff(self.session)

    @work(group="diff", exclusive=True)
    async def _show_diff(self, session: Session) -> None:
        diff = await asyncio.to_thread(extras.review_diff, session, self._has_run)
        await self.push_screen(DiffScreen(diff))

    def action_undo(self) -> None:
        if self.session is None or self.state != "idle" or not self._has_run:
            self.notify("Undo works between runs, after a first task.")
        else:
            self._undo(self.session)

    @work(group="agent", exclusive=True)
    async def _undo(self, session: Session) -> None:
        await asyncio.to_thread(extras.undo, session, 1)  # the RolledBack event says what changed

    def action_resume(self) -> None:
        if self._has_run:
            self.notify("Resume a past session from a fresh `qcode tui`.")
        elif self.state not in ("idle", "error"):  # e.g. still loading: a second engine would start
            self.notify("Resume once the session is ready.", severity="warning")
        else:
            self._pick_session()

    @work(group="sessions", exclusive=True)
    async def _pick_session(self) -> None:
        found = await asyncio.to_thread(extras.sessions_here, self.settings.state_dir, self.repo)
        chosen = await self.push_screen_wait(SessionsScreen(found.rows, found.hidden))
        if chosen:
            self.notify(f"Resuming {chosen} …")
            self._session_future = Future()
            self.state = "loading"
            self._prepare(chosen)

    def start_new_session(self) -> None:
        """/clear: close this session, open a fresh one on the same repository, empty the screen."""
        if self.state not in ("idle", "error"):
            self.notify("A new session starts between runs (Esc interrupts this one).", severity="warning")
            return
        self.conversation.clear()
        self.query_one(PlanPanel).plan = ()
        self.query_one(PlanPanel).phase = ""
        self.stats, self._has_run = RunStats(), False
        self.query_one(StatusBar).stats = ""
        self.query_one(TopBar).branch = ""
        self._session_future = Future()
        self.state = "loading"
        self._prepare(fresh=True)

    async def action_quit(self) -> None:
        if self.state == "closing":
            return
        self.state = "closing"
        self._close_and_exit()

    @work(group="shutdown")
    async def _close_and_exit(self) -> None:
        """Stop the run as Esc does, wait for the worker, then remove the sandbox, close the trajectory."""
        if self.session is not None:
            self.session.cancel()
        self.gate.release("the user quit qcode", close=True)
        self._close_approval()
        for worker in list(self.workers):
            if worker.group in ("engine", "agent") and worker.is_running:
                try:
                    await worker.wait()
                except Exception:  # noqa: BLE001 - its error is already on screen; we are leaving
                    pass
        await asyncio.to_thread(self.close_session)
        self.exit(0)

    def close_session(self) -> None:
        """Idempotent; also called by `run_tui` after the app is gone, for crash paths."""
        future = self._session_future
        session = self.session
        if session is None and future.done() and future.exception() is None:
            session = future.result()
        if session is not None:
            session.close()
        if self._engine is not None:  # the app made it and shares it across resumed sessions
            self._engine.close()
            self._engine = None
