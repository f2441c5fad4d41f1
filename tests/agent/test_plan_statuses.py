"""Every plan status (`failed` included) has a mark in every front door that shows plans: a new
status must not crash the progress view, the bot's report, ACP or the TUI with a KeyError."""

from __future__ import annotations

from typing import get_args

from qcode.agent.contracts import PlanStep

from qcode import progress
from qcode.acp import updates
from qcode.bot import report
from qcode.tui.widgets import panels


def test_every_plan_status_has_a_mark_everywhere() -> None:
    statuses = set(get_args(PlanStep.model_fields["status"].annotation))
    assert "failed" in statuses
    for table in (progress._MARK, report._MARK, updates._PLAN_STATUS, panels._MARK):
        assert statuses <= set(table)
