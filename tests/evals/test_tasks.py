"""The task format: SWE-bench's JSON-encoded test lists, JSON and JSONL files, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.agent.exceptions import UserError
from qcode.evals.tasks import DEFAULT_TEST_COMMAND, Task, dump_tasks, load_tasks

SWE_BENCH_RECORD = {
    "repo": "astropy/astropy",
    "instance_id": "astropy__astropy-12907",
    "base_commit": "d16bfe05a744",
    "patch": "diff --git a/x b/x\n",
    "test_patch": "",
    "problem_statement": "separability is wrong",
    "hints_text": "",
    "created_at": "2022-03-03T15:14:54Z",
    "version": "4.3",
    "FAIL_TO_PASS": '["astropy/modeling/tests/test_separable.py::test_separable[compound_model6-result6]"]',
    "PASS_TO_PASS": '["astropy/modeling/tests/test_separable.py::test_coord_matrix"]',
    "environment_setup_commit": "298ccb478e6b",
}


def test_swe_bench_json_encoded_lists_and_extra_fields(tmp_path: Path) -> None:
    path = tmp_path / "swe.json"
    path.write_text(json.dumps([SWE_BENCH_RECORD]))
    (task,) = load_tasks(path, repos_dir=tmp_path / "repos")
    assert task.FAIL_TO_PASS == [
        "astropy/modeling/tests/test_separable.py::test_separable[compound_model6-result6]"
    ]
    assert task.PASS_TO_PASS == ["astropy/modeling/tests/test_separable.py::test_coord_matrix"]
    assert task.repo_path == str((tmp_path / "repos" / "astropy__astropy").resolve())
    assert task.model_dump()["hints_text"] == ""  # SWE-bench's other fields are kept
    assert task.test_command == DEFAULT_TEST_COMMAND
    assert task.test_files() == ["astropy/modeling/tests/test_separable.py"]


def test_jsonl_with_lists_and_relative_repo_path(tmp_path: Path) -> None:
    tasks = [
        Task(instance_id="a-1", problem_statement="p", FAIL_TO_PASS=["t.py::a"], repo_path="repos/a.tar.gz"),
        Task(instance_id="b-2", problem_statement="q", PASS_TO_PASS=["t.py::b"], repo_path="repos/b"),
    ]
    path = tmp_path / "suite" / "tasks.jsonl"
    dump_tasks(tasks, path)
    loaded = load_tasks(path)
    assert [t.instance_id for t in loaded] == ["a-1", "b-2"]
    assert loaded[0].repo_path == str(tmp_path / "suite" / "repos" / "a.tar.gz")
    assert loaded[1].PASS_TO_PASS == ["t.py::b"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"instance_id": "x"}\n', "problem_statement"),
        (
            '{"instance_id": "x", "problem_statement": "p", "repo_path": "r", "FAIL_TO_PASS": "[oops"}\n',
            "FAIL_TO_PASS",
        ),
        ("not json\n", ":1: not a JSON object"),
        ('{"instance_id": "x", "problem_statement": "p"}\n', "no repo_path"),
        ('{"instance_id": "x", "problem_statement": "p", "repo_path": "r"}\n' * 2, "duplicate instance_id"),
        ("", "holds no tasks"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_tasks(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--tasks"):
        load_tasks(tmp_path / "nope.jsonl")
