"""`qcode bot --dry-run` with its defaults: output outside the checkout, no local branch left, no
`pull request #0`; and `--github-repo` (with `--repo` kept as a hidden alias)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bot.conftest import Remote, labeled_event
from tests.bot.fake_github import FakeGitHub
from tests.bot.test_bot_e2e import _fix_turns
from tests.conftest import git
from tests.e2e.helpers import run_qcode, write_replay

pytestmark = pytest.mark.docker


def test_dry_run_defaults_leave_the_checkout_as_it_was(
    run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path
) -> None:
    replay = write_replay(tmp_path / "fix.jsonl", _fix_turns())
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    branches = git(remote.checkout, "for-each-ref", "refs/heads/")
    done = run_bot(
        labeled_event(7),
        "--engine",
        f"replay:{replay}",
        "--dry-run",
        api_url=github.url,
        env={"GITHUB_TOKEN": "", "RUNNER_TEMP": str(runner_temp)},
    )
    assert done.returncode == 0, done.stderr
    out = runner_temp / "qcode-bot-dry-run"
    assert (out / "result.patch").is_file() and (out / "api-calls.json").is_file()
    assert git(remote.checkout, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(remote.checkout, "for-each-ref", "refs/heads/") == branches  # no qcode/issue-7 left
    assert "#0" not in done.stderr
    assert f"dry run: would open a pull request from qcode/issue-7; see {out}" in done.stderr
    assert github.requests == []


def test_github_repo_names_the_remote_and_repo_is_a_hidden_alias(tmp_path: Path) -> None:
    help_text = run_qcode("bot", "--help").stdout
    assert "--github-repo OWNER/NAME" in help_text and "--repo " not in help_text

    event = tmp_path / "event.json"
    event.write_text(json.dumps(labeled_event(7, label="other")))  # does not trigger: no work done
    for flag in ("--github-repo", "--repo"):
        done = run_qcode("bot", "--event", str(event), flag, "someone/else", "--json")
        assert done.returncode == 0 and json.loads(done.stdout)["action"] == "skipped", done.stderr


def test_the_readme_sample_event_triggers_a_run(tmp_path: Path) -> None:
    from qcode.bot.events import load_event
    from qcode.bot.triggers import TriggerConfig, decide

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    sample = readme.split("cat > /tmp/event.json <<'JSON'\n", 1)[1].split("  JSON\n", 1)[0]
    path = tmp_path / "event.json"
    path.write_text(sample)
    event = load_event(path, None)
    assert decide(event, TriggerConfig()).run and event.issue.number == 7
