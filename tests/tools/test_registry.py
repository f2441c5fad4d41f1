"""The registry's own answers: hints written in no engine's call syntax, requests for approvers."""

from __future__ import annotations

from pathlib import Path

from qcode.agent.contracts import ToolCall
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext


def test_invalid_arguments_hint_shows_arguments_not_qwen_xml(tmp_path: Path) -> None:
    """An OpenAI-native engine's model must not be told to write Qwen XML."""
    ctx = ToolContext(workspace=tmp_path, sandbox=None, diff=lambda path: "")  # type: ignore[arg-type]
    bad = ToolCall(id="c1", name="edit_file", arguments={"path": "a.py"})
    observation = default_registry().dispatch(bad, ctx)
    assert not observation.ok and observation.data["error"] == "invalid_arguments"
    assert '{"path": "<path>", "old_text": "<old_text>", "new_text": "<new_text>"}' in observation.text
    assert "<tool_call>" not in observation.text and "<function=" not in observation.text


def test_approver_is_asked_with_the_tools_declared_effect(tmp_path: Path) -> None:
    asked = []

    def approver(request: object) -> str:
        asked.append(request)
        return "no"

    ctx = ToolContext(workspace=tmp_path, sandbox=None, diff=lambda path: "", approve=approver)  # type: ignore[arg-type]
    observation = default_registry().dispatch(
        ToolCall(id="c1", name="shell", arguments={"command": "ls"}), ctx
    )
    assert observation.data["error"] == "rejected"
    (request,) = asked
    assert request.effect == "exec" and request.sandboxed_command and request.command == "ls"  # type: ignore[attr-defined]
