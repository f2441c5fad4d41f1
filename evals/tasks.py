"""The task format: SWE-bench's fields plus where the repository is on this machine.

SWE-bench publishes `FAIL_TO_PASS` / `PASS_TO_PASS` as JSON-encoded strings inside its JSON; both
that and plain lists are accepted. Files may be a JSON list or JSONL (one task a line).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from qcode.agent.exceptions import UserError

__all__ = ["DEFAULT_TEST_COMMAND", "Task", "dump_tasks", "load_tasks"]

DEFAULT_TEST_COMMAND = "python -m pytest -rA -p no:cacheprovider --tb=short"
"""Test ids are appended to this; `-rA` makes pytest print one PASSED/FAILED line per test."""


class Task(BaseModel):
    """One issue to resolve, graded by tests (SWE-bench-compatible; extra fields are kept)."""

    model_config = ConfigDict(extra="allow")

    instance_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.@+-]+$")
    """Unique name; also the task's folder name in the output directory."""
    problem_statement: str = Field(min_length=1)
    """What the agent is told: the issue text."""
    base_commit: str = ""
    """The commit the agent starts from. For a folder or tarball it is the commit qcode makes
    deterministically from that material (checked when given)."""
    FAIL_TO_PASS: list[str] = Field(default_factory=list)
    """Test ids that fail at the base commit and must pass after the fix."""
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    """Test ids that pass at the base commit and must still pass."""
    patch: str = ""
    """The gold patch (a unified diff against the base commit)."""
    test_patch: str = ""
    """Applied before grading, over the agent's work (tests the agent did not see)."""
    repo: str = ""
    """SWE-bench's `owner/name`; informational here."""
    repo_path: str = ""
    """A git repository, a folder or a .tar.gz on this machine; relative to the tasks file."""
    setup_patch: str = ""
    """Applied to `repo_path` before the base commit is made (the offline suite keeps its injected
    bugs this way, so that the tasks of one package share one tarball)."""
    test_command: str = DEFAULT_TEST_COMMAND
    """A command prefix; the test ids are appended, shell-quoted."""

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _decode_json_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else []
            except json.JSONDecodeError:
                raise ValueError(
                    "must be a JSON list of test ids (or a JSON-encoded string of one)"
                ) from None
        return value

    @field_validator("test_command", mode="before")
    @classmethod
    def _default_command(cls, value: Any) -> Any:
        return value or DEFAULT_TEST_COMMAND

    def test_files(self) -> list[str]:
        """Files that hold the graded tests (pytest ids `path::name`)."""
        files = {test.split("::", 1)[0] for test in [*self.FAIL_TO_PASS, *self.PASS_TO_PASS] if "::" in test}
        return sorted(files)


def _records(path: Path) -> Iterable[tuple[int, Any]]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(
                f"{path} is not valid JSON ({err.msg}, line {err.lineno}); fix the file"
            ) from None
        yield from ((index + 1, record) for index, record in enumerate(data))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(
                    f"{path}:{number}: not a JSON object ({err.msg}); one task per line"
                ) from None


def load_tasks(path: Path, repos_dir: Path | None = None) -> list[Task]:
    """Read a tasks file (JSON list or JSONL). Relative `repo_path`s are resolved against the file's
    folder; tasks without one look for `repos_dir/<owner>__<name>` (a clone of SWE-bench's repo)."""
    if not path.is_file():
        raise UserError(f"tasks file {path} does not exist; pass --tasks PATH to a JSON or JSONL file")
    tasks: list[Task] = []
    seen: set[str] = set()
    for where, record in _records(path):
        try:
            task = Task.model_validate(record)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(task)"
            raise UserError(f"{path}:{where}: bad task field {field!r}: {first['msg']}") from None
        if task.instance_id in seen:
            raise UserError(f"{path}:{where}: duplicate instance_id {task.instance_id!r}; ids must be unique")
        seen.add(task.instance_id)
        task.repo_path = str(_resolve_repo(task, path.parent, repos_dir, where, path))
        tasks.append(task)
    if not tasks:
        raise UserError(f"{path} holds no tasks")
    return tasks


def _resolve_repo(task: Task, base: Path, repos_dir: Path | None, where: int, path: Path) -> Path:
    if task.repo_path:
        return (base / task.repo_path).resolve()
    if repos_dir is not None and task.repo:
        return (repos_dir / task.repo.replace("/", "__")).resolve()
    raise UserError(
        f"{path}:{where}: task {task.instance_id!r} has no repo_path; clone {task.repo or 'its repository'} "
        "and pass --repos-dir DIR (holding owner__name folders) or set repo_path"
    )


def dump_tasks(tasks: Iterable[Task], path: Path) -> None:
    """Write JSONL, one task a line, in the order given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(task.model_dump(mode="json"), ensure_ascii=False) for task in tasks]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
