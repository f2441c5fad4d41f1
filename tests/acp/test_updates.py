"""The pure mapping from qcode's records to ACP updates, and the permission answers."""

from __future__ import annotations

from pathlib import Path

from acp.schema import AllowedOutcome, DeniedOutcome, RequestPermissionResponse

from qcode.acp.permissions import decision_for
from qcode.acp.updates import OUTPUT_LIMIT, UpdateMapper
from qcode.tui.approval import Decision

REPO = Path("/home/me/project")


def _call(call_id: str, name: str, **arguments: object) -> dict:
    return {"type": "tool_call", "step": 1, "call_id": call_id, "name": name, "arguments": arguments}


def _observation(call_id: str, name: str, ok: bool = True, text: str = "done") -> dict:
    return {"type": "observation", "step": 1, "call_id": call_id, "name": name, "ok": ok, "text": text}


def test_repeated_model_ids_become_unique_tool_calls_with_their_diffs() -> None:
    mapper = UpdateMapper(REPO)
    ids = []
    for _ in range(2):  # every turn's first call is call_0
        (start,) = mapper(_call("call_0", "edit_file", path="src/a.py", old_text="x = 1", new_text="x = 2"))
        assert mapper.acp_id("call_0") == start.tool_call_id
        (end,) = mapper(_observation("call_0", "edit_file"))
        assert end.tool_call_id == start.tool_call_id and end.status == "completed"
        diff = end.content[0]
        assert (diff.type, diff.path, diff.old_text, diff.new_text) == (
            "diff",
            f"{REPO}/src/a.py",
            "x = 1",
            "x = 2",
        )
        ids.append(start.tool_call_id)
    assert ids[0] != ids[1]
    assert UpdateMapper(REPO)(_call("call_0", "shell", command="ls"))[0].tool_call_id not in ids


def test_a_path_leaving_the_repository_gets_no_location_and_no_diff() -> None:
    mapper = UpdateMapper(REPO)
    for path in ("../../etc/passwd", "/etc/passwd", "a/../../x"):
        (start,) = mapper(_call("c", "write_file", path=path, content="owned"))
        assert start.locations is None, path
        (end,) = mapper(_observation("c", "write_file"))
        assert [c.type for c in end.content] == ["content"], path


def test_failures_long_output_plan_deltas_and_notices() -> None:
    mapper = UpdateMapper(REPO)
    mapper(_call("c", "shell", command="pytest"))
    (end,) = mapper(_observation("c", "shell", ok=False, text="x" * (OUTPUT_LIMIT + 100)))
    assert end.status == "failed" and len(end.content[0].content.text) < OUTPUT_LIMIT + 40
    plan = {
        "type": "plan_updated",
        "step": 1,
        "plan": [{"step": "a", "status": "done"}, {"step": "b", "status": "pending"}],
    }
    (update,) = mapper(plan)
    assert [(e.content, e.status) for e in update.entries] == [("a", "completed"), ("b", "pending")]
    (thought,) = mapper({"type": "delta", "channel": "reasoning", "text": "hmm", "step": 1})
    assert thought.session_update == "agent_thought_chunk"
    assert mapper({"type": "delta", "channel": "tool_call", "text": "<tool_call>", "step": 1}) == []
    assert mapper({"type": "turn", "text": "again", "reasoning": ""}) == []  # live: the deltas said it
    assert UpdateMapper(REPO, replay=True)({"type": "turn", "text": "again", "reasoning": ""})
    assert mapper({"type": "notice", "level": "info", "text": "fyi"}) == []
    assert mapper({"type": "notice", "level": "error", "text": "boom"})


def test_only_a_selected_known_option_allows() -> None:
    def answer(outcome: object) -> Decision:
        return decision_for(RequestPermissionResponse(outcome=outcome))

    assert answer(AllowedOutcome(outcome="selected", option_id="allow_once")) is Decision.ACCEPT
    assert answer(AllowedOutcome(outcome="selected", option_id="allow_always")) is Decision.ALWAYS
    assert answer(AllowedOutcome(outcome="selected", option_id="reject")) is Decision.REJECT
    assert answer(AllowedOutcome(outcome="selected", option_id="sure, why not")) is Decision.REJECT
    assert answer(DeniedOutcome(outcome="cancelled")) is Decision.REJECT
