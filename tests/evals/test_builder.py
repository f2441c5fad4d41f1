"""The suite builder on a small local package (no network): mutants its tests catch, issue text,
gold and setup patches that invert each other, a reproducible tarball and base commit."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from qcode.evals.builder import _interleave, build_package_tasks, unified_diff
from qcode.evals.mutations import find_mutations
from qcode.evals.packages import PackageTree, prepare_tree, write_tarball
from qcode.evals.repos import apply_patch, materialize
from qcode.sandbox.container import SandboxSettings

from tests.conftest import SANDBOX_IMAGE

CALC = """\
def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def mean(values):
    return sum(values) / len(values)


def span(values):
    return max(values) - min(values)


def is_even(number):
    return number % 2 == 0 and True
"""
TESTS = """\
from calc import clamp, is_even, mean, span


def test_clamp_low():
    assert clamp(-5, 0, 10) == 0


def test_clamp_high():
    assert clamp(50, 0, 10) == 10


def test_clamp_inside():
    assert clamp(5, 0, 10) == 5


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_span():
    assert span([1, 4]) == 3


def test_is_even():
    assert is_even(4) and not is_even(3)
"""


def _package(root: Path) -> PackageTree:
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text(CALC)
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(TESTS)
    return PackageTree(
        name="calc",
        version="1.0",
        root=root,
        modules=["calc/__init__.py"],
        test_command="PYTHONHASHSEED=0 python -m pytest -rA -p no:cacheprovider --tb=short",
    )


@pytest.mark.docker
def test_builds_caught_mutants_as_gradable_tasks(tmp_path: Path) -> None:
    tree = _package(tmp_path / "calc")
    write_tarball(tree.root, tmp_path / "calc-1.0.tar.gz")
    tasks = build_package_tasks(
        tree,
        str(tmp_path / "calc-1.0.tar.gz"),
        SandboxSettings(image=SANDBOX_IMAGE),
        seed=0,
        wanted=2,
        log=lambda _: None,
    )
    assert len(tasks) == 2
    for task in tasks:
        assert task.FAIL_TO_PASS and set(task.FAIL_TO_PASS).isdisjoint(task.PASS_TO_PASS)
        assert all(
            test.startswith("tests/test_calc.py::test_") for test in task.FAIL_TO_PASS + task.PASS_TO_PASS
        )
        assert "test_" not in task.problem_statement and "diff" not in task.problem_statement
        base = tmp_path / task.instance_id
        commit = materialize(task, base)
        assert (base / "calc" / "__init__.py").read_text() != CALC  # the bug is in
        apply_patch(base, task.patch, "gold")
        assert (base / "calc" / "__init__.py").read_text() == CALC  # the gold patch reverts it
        assert materialize(task, tmp_path / f"{task.instance_id}-again") == commit  # deterministic base
    assert (tree.root / "calc" / "__init__.py").read_text() == CALC  # the package tree is left as it was


def test_mutation_order_is_seeded() -> None:
    found = find_mutations("calc/__init__.py", CALC)
    first = [m.key for m in _interleave(list(found), random.Random("0:calc"))]
    assert first == [m.key for m in _interleave(list(found), random.Random("0:calc"))]
    assert first != [m.key for m in _interleave(list(found), random.Random("1:calc"))]


def test_tarball_is_reproducible_and_trimmed(tmp_path: Path) -> None:
    tree = _package(tmp_path / "src")
    (tree.root / "docs").mkdir()
    (tree.root / "docs" / "index.rst").write_text("docs")
    write_tarball(tree.root, tmp_path / "one.tar.gz")
    prepared = prepare_tree(tmp_path / "one.tar.gz", tmp_path / "prepared")
    assert not (prepared.root / "docs").exists()
    assert prepared.modules == ["calc/__init__.py"] and "PYTHONHASHSEED=0" in prepared.test_command
    write_tarball(tree.root, tmp_path / "again" / "one.tar.gz")
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "again" / "one.tar.gz").read_bytes()


def test_unified_diff_applies(tmp_path: Path, make_repo) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo({"a.py": CALC})
    apply_patch(repo, unified_diff("a.py", CALC, CALC.replace("<", "<=")), "patch")
    assert (repo / "a.py").read_text() == CALC.replace("<", "<=")
