"""Which events start a run: the pure decision, and the real command exiting 0 with "nothing to do"."""

from __future__ import annotations

import pytest

from qcode.bot.events import parse_event
from qcode.bot.triggers import BOT_MARKER, TriggerConfig, decide
from tests.bot.conftest import Remote, comment_event, labeled_event
from tests.bot.fake_github import FakeGitHub

DEFAULT = TriggerConfig()


def test_trigger_label_runs_other_labels_do_not() -> None:
    assert decide(parse_event(labeled_event(label="qcode")), DEFAULT).run
    skipped = decide(parse_event(labeled_event(label="bug")), DEFAULT)
    assert not skipped.run and skipped.reason == "label 'bug' is not the trigger label 'qcode'"
    assert decide(parse_event(labeled_event(label="fix-me")), TriggerConfig(label="fix-me")).run


def test_opened_issue_needs_the_label() -> None:
    opened = {**labeled_event(), "action": "opened"}
    del opened["label"]
    assert decide(parse_event(opened), DEFAULT).run
    opened["issue"] = {**opened["issue"], "labels": []}
    assert not decide(parse_event(opened), DEFAULT).run


def test_comment_trigger_carries_the_rest_of_the_comment() -> None:
    decision = decide(parse_event(comment_event("@qcode fix it, and add a test")), DEFAULT)
    assert decision.run and decision.comment == "fix it, and add a test"


@pytest.mark.parametrize(
    "event, reason",
    [
        (comment_event("please fix this"), "does not start with '@qcode'"),
        (comment_event("@qcode fix", login="github-actions[bot]", kind="Bot"), "by the bot"),
        (comment_event("@qcode fix", login="qcode-app[bot]"), "by the bot"),
        (comment_event(f"{BOT_MARKER}\n@qcode opened #3"), "by the bot"),
        (comment_event("@qcode fix", association="NONE"), "may not trigger qcode"),
        ({**comment_event("@qcode fix"), "action": "edited"}, "is not `created`"),
    ],
)
def test_comments_that_never_trigger(event: dict, reason: str) -> None:
    decision = decide(parse_event(event), DEFAULT)
    assert not decision.run and reason in decision.reason


def test_pull_request_comments_do_not_trigger() -> None:
    event = comment_event("@qcode fix")
    event["issue"]["pull_request"] = {"url": "https://api.github.example/pulls/3"}
    assert "is a pull request" in decide(parse_event(event), DEFAULT).reason


@pytest.mark.slow
@pytest.mark.parametrize(
    "event",
    [
        labeled_event(label="bug"),
        comment_event("@qcode fix", login="github-actions[bot]", kind="Bot"),
        comment_event("thanks, looks good"),
    ],
    ids=["label-mismatch", "own-comment", "no-trigger"],
)
def test_command_with_nothing_to_do_exits_0(run_bot, remote: Remote, github: FakeGitHub, event: dict) -> None:
    done = run_bot(event, "--engine", "replay:/nonexistent.jsonl", api_url=github.url)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("nothing to do: ")
    assert github.requests == [] and remote.branch("qcode/issue-7") is None


@pytest.mark.slow
def test_custom_triggers_from_flags(run_bot, remote: Remote, github: FakeGitHub) -> None:
    done = run_bot(comment_event("@qcode fix"), "--trigger", "/fix", api_url=github.url)
    assert done.returncode == 0 and "does not start with '/fix'" in done.stderr
