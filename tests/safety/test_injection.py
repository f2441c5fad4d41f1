"""Issue 13, classes 7 and 8: untrusted text reaching sinks other than the model.

The model names tools `[/x]` (Rich markup) and `x\\n::error …` (a GitHub Actions workflow command),
sends arguments holding OSC 52 clipboard writes, window titles and screen clears, and finishes with
a summary full of closing keywords, mentions, a hidden HTML comment and git trailers. The run must
end with its JSON result; stderr holds no escape sequence and no workflow command; the commit has
no trailer and no live closing keyword; the bot's PR body keeps only its own `Fixes #N`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from qcode.agent.contracts import PlanStep
from qcode.agent.session import RunResult
from qcode.agent.untrusted import for_commit, for_markdown, for_markup, for_terminal

from qcode.bot.report import pr_body
from tests.conftest import git
from tests.safety.helpers import finish, raw_call, run_fix
from tests.safety.repos import make_repo

pytestmark = pytest.mark.docker

ESCAPES = "\x1b]52;c;cHduZWQ=\x07\x1b]0;owned title\x07\x1b[2J\x1b[H\x9b2J"
SUMMARY = (
    "Fixed add.\n\nFixes #1, closes #2, resolves https://github.com/o/r/issues/3; "
    "cc @org/security-team <!-- hidden instructions -->\n\n"
    "Co-authored-by: Mallory <m@evil.example>\nSigned-off-by: Mallory <m@evil.example>"
)


@pytest.mark.attack
def test_terminal_markup_and_git_sinks(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    turns = [
        {"tool_calls": [{"name": "[/x]", "arguments": {}}]},
        {"tool_calls": [{"name": "x\n::error title=pwned::owned", "arguments": {}}]},
        raw_call("read_file", path=f"{ESCAPES}calc.py"),
        raw_call("update_plan", plan=[{"step": f"{ESCAPES}\n::warning::step", "status": "in_progress"}]),
        raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
        finish(SUMMARY + ESCAPES),
    ]
    run = run_fix(repo, turns, tmp_path / "run", task=f"fix it {ESCAPES}\nCo-authored-by: Eve <e@x>")
    assert run.result["status"] == "resolved", (run.result, run.proc.stderr[-3000:])
    err = run.proc.stderr
    assert "[/x]" in err  # shown as text, not parsed as markup
    for bad in ("\x1b]", "\x1b[2J", "\x07", "\x9b"):
        assert bad not in err, repr(bad)
    assert not [line for line in err.splitlines() if line.lstrip().startswith(("::", "##["))]
    commit = run.result["commit"]
    message = git(repo, "log", "-1", "--format=%B", commit)
    assert git(repo, "log", "-1", "--format=%(trailers)", commit).strip() == ""
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"], input=message, capture_output=True, text=True, check=True
    )
    assert parsed.stdout.strip() == ""
    assert "Fixes #1" not in message and "@org" not in message and "\x1b" not in message


def test_pr_body_keeps_only_its_own_closing_keyword() -> None:
    result = RunResult(status="resolved", reason="finished", summary=SUMMARY, session_id="s")
    body = pr_body(7, result, [PlanStep(step="close #9 for @alice <!-- x -->", status="done")], 1.0)
    assert body.count("Fixes #") == 1 and body.rstrip().endswith("Fixes #7")
    for live in ("#1", "#2", "#9", "closes #", "@org", "@alice"):
        assert live not in body, live
    assert body.count("<!--") == 1  # the bot's own marker; the model's comments are shown


def test_sanitisers_directly() -> None:
    assert for_terminal("a\x1b]52;c;eA==\x07b\x1b[31mc\x00d\u202ee") == "abcde"
    assert for_terminal("ok\n  ::set-output name=x::y\n##[error]z").splitlines()[1].strip()[:2] != "::"
    assert for_markup("[/x]") == "\\[/x]"
    assert (
        for_markdown("Resolves https://github.com/o/r/issues/1").lower()
        != "resolves https://github.com/o/r/issues/1"
    )
    assert "Signed-off-by:" not in for_commit("x\n\nSigned-off-by: a <a@b>")
    assert for_markdown("mail a@b.example, see `x`") == "mail a@b.example, see `x`"


@pytest.mark.attack
def test_tui_tool_card_shows_hostile_names_as_text() -> None:
    """The TUI's card title went through Textual markup (`[/x]` raised MarkupError) and passed ESC
    sequences on to the terminal."""
    from qcode.agent.events import ToolCalled

    from qcode.tui.widgets.conversation import ToolCard

    card = ToolCard(ToolCalled(step=1, call_id="c", name="[/x]", arguments={"path": f"{ESCAPES}a.py"}))
    title = card.title
    assert "[/x]" in str(title) and "\x1b" not in str(title) and "\x07" not in str(title)
