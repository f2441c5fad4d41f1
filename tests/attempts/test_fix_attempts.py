"""`qcode fix --attempts 3 --engine mix:replay:GOOD,replay:BAD1,replay:BAD2` end to end: real
Docker, real git, the real `qcode` command; the good attempt wins and the others say why they lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.e2e.helpers import qcode_containers, raw_call, run_qcode, write_replay

pytestmark = pytest.mark.docker

BUGGY = (
    "def mean(values):\n    return sum(values) / (len(values) + 1)\n\n\n"
    "def total(values):\n    return sum(values)\n"
)
TESTS = "from stats import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"
REPRO = "from stats import mean\n\n\ndef test_mean():\n    assert mean([2, 4, 6]) == 4\n"
ISSUE = "mean([2, 4, 6]) returns 3 instead of 4"


def _edit(old: str, new: str) -> dict:
    return raw_call("edit_file", path="stats.py", old_text=old, new_text=new)


def good() -> list[dict]:
    return [
        raw_call("write_file", path="test_mean.py", content=REPRO),
        _edit("    return sum(values) / (len(values) + 1)\n", "    return sum(values) / len(values)\n"),
        raw_call("finish", summary="mean divided by len+1; fixed, with a test."),
    ]


def breaks_total() -> list[dict]:
    """Fixes mean but breaks total: a regression the repository's own test catches."""
    return [
        _edit("    return sum(values) / (len(values) + 1)\n", "    return sum(values) / len(values)\n"),
        _edit(
            "def total(values):\n    return sum(values)\n", "def total(values):\n    return sum(values) + 1\n"
        ),
        raw_call("finish", summary="Fixed mean."),
    ]


def no_change() -> list[dict]:
    return [raw_call("read_file", path="stats.py"), raw_call("finish", summary="All fixed, tests pass!")]


@pytest.fixture
def repo(make_repo) -> Path:
    return make_repo({"stats.py": BUGGY, "test_stats.py": TESTS})


def test_good_attempt_wins_and_others_say_why(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    replays = [
        write_replay(tmp_path / f"{name}.jsonl", turns())
        for name, turns in (("bad1", breaks_total), ("good", good), ("bad2", no_change))
    ]
    done = run_qcode(
        "fix",
        ISSUE,
        "--repo",
        str(repo),
        "--attempts",
        "3",
        "--engine",
        "mix:" + ",".join(f"replay:{path}" for path in replays),
        "--json",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["chosen"] == 2
    assert out["verify_command"].startswith("python -m pytest")
    slug = "qcode/mean-2-4-6-returns-3"
    assert out["branch"] == slug and out["status"] == "resolved"
    attempts = {a["number"]: a for a in out["attempts"]}
    assert attempts[1]["branch"] == f"{slug}-attempt-1" and attempts[3]["branch"] is None
    # The chosen branch is the good attempt's commit; the other attempt branch is kept.
    assert git(repo, "rev-parse", slug).strip() == attempts[2]["commit"]
    assert git(repo, "rev-parse", f"{slug}-attempt-1").strip() == attempts[1]["commit"]
    assert git(repo, "rev-parse", f"{slug}-attempt-2").strip() == attempts[2]["commit"]
    assert "mean([2, 4, 6]) == 4" in git(repo, "show", f"{slug}:test_mean.py")
    # Why each lost, in the JSON and on the terminal.
    assert attempts[1]["verdict"].startswith("lost at (b)") or attempts[1]["verdict"].startswith(
        "lost at (c)"
    )
    assert attempts[3]["verdict"].startswith("lost at (a)") and "changed no file" in attempts[3]["verdict"]
    assert attempts[2]["verdict"].startswith("chosen")
    assert "attempt 1: lost at" in done.stderr and "attempt 3: lost at (a)" in done.stderr
    steps = {s["key"]: s for s in out["selection"]["steps"]}
    assert list(steps) == ["a", "b", "c", "d", "e", "f"]
    assert 1 in steps["b"]["dropped"] or "1" in steps["b"]["dropped"]
    # The user's checkout is untouched; no container is left: attempts' nor checks'.
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert (repo / "stats.py").read_text() == BUGGY
    for sandbox in [a["session_id"] for a in out["attempts"]] + out["check_sandboxes"]:
        assert qcode_containers(sandbox) == []
    assert len(out["check_sandboxes"]) >= 3  # the base, and each attempt with a change


def test_replay_engine_cannot_serve_several_attempts(repo: Path, tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "one.jsonl", good())
    done = run_qcode("fix", ISSUE, "--repo", str(repo), "--attempts", "2", "--engine", f"replay:{replay}")
    assert done.returncode == 2
    assert "mix:replay" in done.stderr
    assert git(repo, "for-each-ref", "refs/heads/qcode/") == ""


def test_mix_count_must_match_attempts(repo: Path, tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "one.jsonl", good())
    done = run_qcode("fix", ISSUE, "--repo", str(repo), "--attempts", "3", "--engine", f"mix:replay:{replay}")
    assert done.returncode == 2 and "make them match" in done.stderr
