"""The gold engine: raw Qwen3 XML through the real parser, edits from hunks, recoverable faults."""

from __future__ import annotations

from qcode.agent.events import ObservationMade
from qcode.agent.qwen_xml import parse_turn
from qcode.evals.builder import unified_diff
from qcode.evals.faults import FaultInjector
from qcode.evals.gold import GoldEngine, gold_calls
from qcode.evals.metrics import RunMetrics
from qcode.evals.tasks import Task
from qcode.tools.builtin import default_registry

BEFORE = "def area(w, h):\n    if w < 0:\n        raise ValueError(w)\n    return w * h + 1\n"
AFTER = BEFORE.replace("w * h + 1", "w * h")
TOOLS = default_registry().schemas()


def _task() -> Task:
    return Task(
        instance_id="geo-1",
        problem_statement="area is off by one",
        repo_path="x",
        patch=unified_diff("geo/shapes.py", BEFORE, AFTER),
        FAIL_TO_PASS=["tests/test_geo.py::test_area"],
        test_command="python -m pytest",
    )


def test_trajectory_covers_plan_reproduce_locate_edit_verify_finish() -> None:
    calls = gold_calls(_task())
    names = [name for name, _, _ in calls]
    assert names[0] == "update_plan" and names[-1] == "finish"
    assert names.count("shell") == 2 and "search" in names and "read_file" in names
    (edit,) = [args for name, args, _ in calls if name == "edit_file"]
    assert edit["path"] == "geo/shapes.py"
    assert BEFORE.replace(edit["old_text"], edit["new_text"]) == AFTER
    shell = [args["command"] for name, args, _ in calls if name == "shell"]
    assert shell[0] == "python -m pytest -q tests/test_geo.py::test_area"


def _drive(engine: GoldEngine, answer_ok: bool = True) -> list:
    """Feed the engine tool answers like the loop does; return every turn."""
    messages: list[dict] = [{"role": "user", "content": "go"}]
    turns = []
    while True:
        turn = engine.complete(messages, TOOLS)
        turns.append(turn)
        call = turn.tool_calls[0]
        if call.name == "finish" and not call.problem:
            return turns
        messages.append({"role": "assistant", "content": turn.text})
        messages.append(
            {"role": "tool", "content": "Edited x" if call.name == "edit_file" and answer_ok else "ok"}
        )


def test_turns_are_raw_xml_the_parser_reads_back() -> None:
    engine = GoldEngine(_task())
    turns = _drive(engine)
    expected = gold_calls(_task())
    assert len(turns) == len(expected)
    for turn, (name, args, _) in zip(turns, expected, strict=True):
        assert turn.raw and "<tool_call>" in turn.raw
        parsed = parse_turn(turn.raw, TOOLS).tool_calls[0]
        assert (parsed.name, parsed.problem) == (name, None)
        assert turn.tool_calls[0].arguments == args
        assert turn.usage.prompt_tokens > 0 and turn.usage.completion_tokens > 0


def test_every_turn_faulty_first_then_correct() -> None:
    engine = GoldEngine(_task(), FaultInjector(1.0, seed="all"))
    turns = _drive(engine, answer_ok=False)
    expected = len(gold_calls(_task()))
    assert len(turns) == 2 * expected
    assert len(engine.faults_injected) == expected
    assert set(engine.faults_injected) <= {
        "malformed_xml",
        "unknown_tool",
        "invalid_arguments",
        "whitespace_edit",
    }


def test_a_drifted_edit_that_applied_is_not_sent_again() -> None:
    class EditsOnly(FaultInjector):
        def maybe(self, name, arguments):  # type: ignore[no-untyped-def]
            return super().maybe(name, arguments) if name == "edit_file" else None

    injector = EditsOnly(1.0, seed="x")
    injector.rng.choice = lambda kinds: "whitespace_edit"  # type: ignore[method-assign]
    engine = GoldEngine(_task(), injector)
    turns = _drive(engine, answer_ok=True)
    assert len(turns) == len(gold_calls(_task()))  # the drifted edit took the correct one's place


def test_fault_rate_is_seeded() -> None:
    first = [FaultInjector(0.3, seed="s").maybe("read_file", {"path": "a"}) is None for _ in range(1)]
    again = [FaultInjector(0.3, seed="s").maybe("read_file", {"path": "a"}) is None for _ in range(1)]
    assert first == again


def test_metrics_count_errors_and_recoveries() -> None:
    metrics = RunMetrics()
    events = [
        ("edit", False, "unknown_tool"),
        ("read_file", False, "invalid_arguments"),
        ("read_file", True, None),
        ("shell", False, None),
        ("finish", False, "malformed_call"),
    ]
    for index, (name, ok, error) in enumerate(events):
        metrics(
            ObservationMade(
                step=index,
                call_id=str(index),
                name=name,
                ok=ok,
                text="",
                data={"error": error} if error else {},
            )
        )
    assert metrics.tool_errors == 3
    assert metrics.recoveries == 2  # the last malformed call has no later success
    assert metrics.failed_commands == 1
    assert metrics.error_kinds == {"unknown_tool": 1, "invalid_arguments": 1, "malformed_call": 1}


def test_tokens_stream_by_channel_without_tags() -> None:
    """The loop streams every engine's turn as (text, channel); the gold engine must too."""
    pieces: list[tuple[str, str]] = []
    engine = GoldEngine(_task())
    engine.complete(
        [{"role": "user", "content": "fix"}],
        [],
        on_token=lambda text, channel: pieces.append((text, channel)),
    )
    channels = {channel for _, channel in pieces}
    assert {"reasoning", "tool_call"} <= channels
    assert not any("<think>" in text or "</think>" in text for text, _ in pieces)
