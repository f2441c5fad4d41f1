"""Pure helpers behind the widgets: streamed text, card titles, token stats."""

from __future__ import annotations

from qcode.agent.contracts import Usage

from qcode.tui.view_model import RunStats, card_title, clock_text, summarize_args


def test_card_title_shows_tool_main_argument_status_and_duration() -> None:
    assert card_title("shell", {"command": "python -m pytest -q", "timeout": 5}, "ok", 1.234) == (
        "✓ shell  python -m pytest -q  1.2s"
    )
    assert card_title("edit_file", {"path": "a.py", "old_text": "x"}, "running") == "… edit_file  a.py"
    assert card_title("git_diff", {}, "failed", 0.004) == "✗ git_diff  4ms"
    assert summarize_args("update_plan", {"plan": [{}, {}]}) == "2 steps"
    assert summarize_args("shell", {"command": "echo " + "x" * 100}, limit=10) == "echo xxxx…"


def test_run_stats() -> None:
    stats = RunStats()
    stats.add_turn(1, Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=0), 3.0, 1.0)
    stats.add_turn(2, Usage(prompt_tokens=1500, completion_tokens=50, cached_tokens=1000), 1.0, None)
    assert stats.step == 2 and stats.tokens_per_second == 50.0
    assert round(stats.cached_percent) == 40
    assert stats.text() == "step 2 · ↑2.5k ↓150 · 40% cached · 50 tok/s"
    assert clock_text(3725) == "1:02:05" and clock_text(65) == "01:05"
