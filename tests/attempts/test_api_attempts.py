"""`qcode.fix(..., attempts=3)` from Python: the same selection as `qcode fix --attempts 3`, and the
chosen attempt's result with the fields of `--json`."""

from __future__ import annotations

from pathlib import Path

import pytest

import qcode
from tests.attempts.test_fix_attempts import ISSUE, breaks_total, good, no_change
from tests.conftest import git
from tests.e2e.helpers import write_replay

pytestmark = pytest.mark.docker


def test_python_api_runs_attempts_and_returns_the_chosen_result(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"stats.py": "def mean(values):\n    return sum(values) / (len(values) + 1)\n\n\n"
                      "def total(values):\n    return sum(values)\n",
                      "test_stats.py": "from stats import total\n\n\ndef test_total():\n"
                      "    assert total([1, 2]) == 3\n"})  # fmt: skip
    head = git(repo, "rev-parse", "HEAD").strip()
    replays = [
        write_replay(tmp_path / f"{name}.jsonl", turns())
        for name, turns in (("bad1", breaks_total), ("good", good), ("bad2", no_change))
    ]
    result = qcode.fix(ISSUE, repo=repo, engine="mix:" + ",".join(f"replay:{p}" for p in replays), attempts=3)
    assert isinstance(result, qcode.RunResult)
    assert result.status == "resolved" and result.branch == "qcode/mean-2-4-6-returns-3"
    assert result.commit and git(repo, "rev-parse", result.branch).strip() == result.commit
    branches = git(repo, "branch", "--list", "qcode/*").split()
    # the attempt that changed nothing has no commit, so no branch
    assert {f"qcode/mean-2-4-6-returns-3-attempt-{k}" for k in (1, 2)} <= set(branches)
    assert git(repo, "rev-parse", "HEAD").strip() == head and not git(repo, "status", "--porcelain")
