"""The bot and the eval runner never ask: no one is at a terminal to answer (issue 15, item 3).

They build their sessions without an approver, which the registry reads as "approve everything";
a change that hands them one would leave a CI job waiting on a prompt forever."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["qcode/bot/runner.py", "evals/runner.py"])
def test_sessions_without_a_person_get_no_approver(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "new_session"
    ]
    assert calls, f"{path} no longer builds a session with new_session: update this test"
    for call in calls:
        approver = [kw.value for kw in call.keywords if kw.arg == "approver"]
        assert all(isinstance(v, ast.Constant) and v.value is None for v in approver)
        assert not any(kw.arg is None for kw in call.keywords)  # no **kwargs smuggling one in
