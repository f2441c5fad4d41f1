"""`qcode eval --attempts 3 --engine mix:gold=1,decoy=2`: real Docker and git on held-out tasks;
pass@1 beside best-of-3, and the selection picks the gold attempt where the tests tell them apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.evals.decoy import decoy_patch, mix_kinds
from qcode.evals.repos import materialize
from qcode.evals.tasks import dump_tasks, load_tasks

from tests.e2e.helpers import run_qcode

HELDOUT = Path(__file__).parents[1] / "evals" / "data" / "heldout.jsonl"


def test_mix_kinds_are_seeded_per_task_and_gold_is_not_always_first() -> None:
    orders = {tuple(mix_kinds("mix:gold=1,decoy=3", f"task-{n}") or []) for n in range(20)}
    assert all(sorted(order)[0] == "decoy-breaks" and order.count("gold") == 1 for order in orders)
    assert len({order.index("gold") for order in orders}) > 1  # the gold attempt moves around
    assert mix_kinds("mix:gold=1,decoy=3", "x") == mix_kinds("mix:gold=1,decoy=3", "x")
    assert mix_kinds("mix:replay:a.jsonl", "x") is None
    with pytest.raises(ValueError, match="mix:gold=G,decoy=D"):
        mix_kinds("mix:gold=1,bogus=2", "x")


def test_decoy_patches_differ_from_gold_and_from_the_base(tmp_path: Path) -> None:
    task = load_tasks(HELDOUT)[1]
    base = tmp_path / "repo"
    materialize(task, base)
    for kind in ("mutant", "breaks"):
        patch = decoy_patch(task, base, kind, task.instance_id)
        assert patch != task.patch
        assert any(line.startswith("+") and not line.startswith("+++") for line in patch.splitlines())
    assert decoy_patch(task, base, "noop", task.instance_id) == ""


@pytest.mark.docker
def test_eval_attempts_reports_pass_at_1_beside_best_of_3(tmp_path: Path) -> None:
    tasks_file = tmp_path / "tasks.jsonl"
    dump_tasks(load_tasks(HELDOUT)[:2], tasks_file)
    out = tmp_path / "out"
    done = run_qcode(
        "eval", "--tasks", str(tasks_file), "--attempts", "3", "--engine", "mix:gold=1,decoy=2",
        "--workers", "2", "--out", str(out), timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    summary = report["attempts"]
    assert summary["count"] == 3 and summary["tasks"] == 2
    assert summary["best_of_n"] == 2  # the gold attempt resolves every task
    assert "pass@1" in done.stderr and "best-of-3" in done.stderr
    markdown = (out / "report.md").read_text()
    assert "pass@1 (first attempt alone)" in markdown and "best-of-3" in markdown
    for task in report["per_task"]:
        attempts = task["attempts"]
        assert sorted(a["engine"].split(":")[0] for a in attempts) == ["decoy", "decoy", "gold"]
        gold = next(a for a in attempts if a["engine"] == "gold")
        assert task["pass_at_1"] == attempts[0]["resolved"]
        assert all(not a["resolved"] for a in attempts if a["engine"] != "gold")  # decoys are wrong
        told_apart = all(a["behaviour"] != gold["behaviour"] for a in attempts if a is not gold)
        if told_apart:
            assert gold["chosen"] and task["resolved"], task
    assert summary["selection_accuracy"] == 1.0
