"""qcode from Python: run a fix and watch its events, as `qcode fix` does.

    import qcode

    result = qcode.fix("mean() divides by len+1", repo="~/src/stats", engine="openai",
                       on_event=lambda event: print(event["type"]))
    print(result.status, result.branch)

    for event in qcode.iter_fix("mean() divides by len+1", repo="~/src/stats"):
        ...  # the stream-json records, the last one {"type": "result", ...}

    outcome = qcode.fix_attempts("mean() divides by len+1", repo="~/src/stats", attempts=3)
    print(outcome.chosen, [attempt.verdict for attempt in outcome.attempts])

The events are the records of `qcode fix --output-format stream-json` (schema `v` 1, see the
README); the result has the fields of `qcode fix --json`. Bad input raises `qcode.UserError`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qcode.agent.contracts import Engine
from qcode.agent.exceptions import UserError
from qcode.agent.session import RunResult, Session
from qcode.stream_json import event_record, result_record

if TYPE_CHECKING:
    from qcode.agent.attempts import AttemptsOutcome

__all__ = ["EventRecord", "RunResult", "UserError", "fix", "fix_attempts", "iter_fix"]

EventRecord = dict[str, Any]
"""One stream-json record: `type`, `v` and the event's fields."""
QUEUE_LIMIT = 1024
"""Records `iter_fix` holds for a slow reader; the run waits when it is full."""
_log = logging.getLogger("qcode")


def fix(
    issue: str,
    repo: str | Path = ".",
    engine: str | Engine | None = None,
    attempts: int | None = None,
    *,
    model: str | None = None,
    max_steps: int | None = None,
    verify: str | None = None,
    images: Sequence[str | Path] = (),
    on_event: Callable[[EventRecord], None] | None = None,
    _on_session: Callable[[Session], None] | None = None,
) -> RunResult:
    """Fix `issue` in the git repository `repo` and commit the result on a new branch there.

    `engine`: "vllm", "openai", "replay:FILE", "mix:E1,E2,…" or an Engine object you own (a warm
    one, shared by several fixes); default: the settings' engine. `attempts`: N tries at once, the
    verified one wins (`fix_attempts`); the result is then the chosen attempt's, or "unresolved"
    with the selection's reason when none was chosen. `on_event` gets each stream-json record as it
    happens, on the run's thread (one attempt's: attempts report through `fix_attempts`).
    Returns the result `qcode fix --json` prints; the user's checkout is never modified."""
    if (attempts or 1) > 1 or (isinstance(engine, str) and engine.startswith("mix:")):
        if not (engine is None or isinstance(engine, str)) or images:
            raise UserError("attempts build their own engines and take no images; pass engine as a string")
        outcome = fix_attempts(issue, repo, engine, attempts, model=model, max_steps=max_steps, verify=verify)
        return outcome.result or RunResult(status="unresolved", reason=outcome.selection.reason)
    from qcode.config import load_settings
    from qcode.runner import new_session, prepare_sandbox

    folder = Path(repo).expanduser()
    flags = {"model": model, "max_steps": max_steps, "verify_command": verify}
    if isinstance(engine, str):
        flags["engine"] = engine
    settings = load_settings(flags, folder if folder.is_dir() else None).settings
    paths = [Path(image).expanduser() for image in images]
    if paths:
        from qcode.images import check_images

        check_images(settings, paths)
    prepare_sandbox(settings, log=_log.info)
    bus = _bus(on_event)
    vision, given = _engines(settings, engine, bool(paths))
    try:
        with new_session(settings, folder, bus=bus, engine=vision or given) as session:
            if vision is not None:
                vision.open_store(session.folder).attach(paths)
            if _on_session is not None:
                _on_session(session)
            return session.run(issue)
    finally:
        if vision is not None and given is None:
            vision.close()  # made here for the images; an engine passed in stays the caller's


def fix_attempts(
    issue: str,
    repo: str | Path = ".",
    engine: str | None = None,
    attempts: int | None = None,
    *,
    model: str | None = None,
    max_steps: int | None = None,
    verify: str | None = None,
) -> AttemptsOutcome:
    """`qcode fix --attempts N`: N sessions at once on one engine (or `mix:E1,E2,…`, one each),
    each on its own `qcode/<slug>-attempt-K` branch; the selection's pick becomes `qcode/<slug>`.
    The outcome has every attempt's checks and verdict, `chosen` and the chosen `result`."""
    from qcode.agent.attempts import AttemptEngines, AttemptsOptions, mix_specs, run_attempts
    from qcode.agent.engines import preflight
    from qcode.agent.events import EventBus
    from qcode.agent.workspace import inspect_repo
    from qcode.config import load_settings
    from qcode.runner import prepare_sandbox

    folder = Path(repo).expanduser()
    flags: dict[str, Any] = {"model": model, "max_steps": max_steps, "verify_command": verify}
    flags.update({"engine": engine, "attempts": attempts})
    settings = load_settings(
        {k: v for k, v in flags.items() if v is not None}, folder if folder.is_dir() else None
    ).settings
    inspect_repo(folder)  # bad input fails before any engine loads
    specs = mix_specs(settings.engine)
    for spec in specs or [settings.engine]:
        preflight(spec)
    options = AttemptsOptions.from_settings(settings)
    prepare_sandbox(settings, log=_log.info)
    engines = AttemptEngines.build(settings.engine, settings, options.count)
    try:
        return run_attempts(settings, folder, issue, engines, options, lambda _number: EventBus())
    finally:
        engines.close()


def iter_fix(issue: str, **options: Any) -> Iterator[EventRecord]:
    """`fix` as a stream of its records, ending with `{"type": "result", ...}`. Stop iterating (or
    close the generator) to stop the run; its sandbox is removed. Errors are raised here."""
    records: queue.Queue[EventRecord | BaseException | None] = queue.Queue(QUEUE_LIMIT)
    gone = threading.Event()
    sessions: list[Session] = []

    def put(item: EventRecord | BaseException | None) -> None:
        while not gone.is_set():
            try:
                records.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise BrokenPipeError("the reader of qcode.iter_fix stopped")  # ends the run like a closed pipe

    def work() -> None:
        try:
            put(result_record(fix(issue, on_event=put, _on_session=sessions.append, **options)))
            put(None)
        except BaseException as err:  # handed to the reader, raised on its thread
            if not gone.is_set():
                put(err)

    worker = threading.Thread(target=work, name="qcode-iter-fix", daemon=True)
    worker.start()
    try:
        while (item := records.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        gone.set()
        if sessions:
            sessions[0].cancel()  # a running command is killed now, not at its next event
        worker.join()


def _bus(on_event: Callable[[EventRecord], None] | None) -> Any:
    from qcode.agent.events import EventBus

    bus = EventBus()
    if on_event is not None:

        def forward(event: object) -> None:
            record = event_record(event)
            if record is not None:
                on_event(record)

        bus.subscribe(forward)
    return bus


def _engines(settings: Any, engine: str | Engine | None, images: bool) -> tuple[Any, Engine | None]:
    """(the image-carrying wrapper when there are images, the caller's own engine object)."""
    given = None if engine is None or isinstance(engine, str) else engine
    if not images:
        return None, given
    from qcode.images import VisionEngine

    if given is not None:
        return VisionEngine(given), given
    from qcode.agent.engines import make_engine

    return VisionEngine(make_engine(settings.engine, settings)), None
