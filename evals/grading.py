"""Grade a patch the SWE-bench way: on a fresh copy of the base, apply the patch, put the graded
test files back as they were at the base, apply `test_patch`, then run FAIL_TO_PASS and
PASS_TO_PASS in a new sandbox. Resolved means both runs pass.

Test files are restored so that an agent that edits the tests cannot grade itself.
"""

from __future__ import annotations

import re
import shlex
import shutil
import time
from pathlib import Path

from pydantic import BaseModel, Field
from qcode.agent.exceptions import GitError
from qcode.agent.hostgit import run_git
from qcode.evals.repos import RepoMaterialError, apply_patch
from qcode.evals.tasks import Task
from qcode.sandbox.container import DockerSandbox, SandboxSettings

__all__ = ["Grade", "TestRun", "grade_patch", "parse_test_report", "run_tests"]

_REPORT_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (.+?)(?: - .*)?$", re.M)
"""`STATUS id` or `STATUS id - message`; an id may hold spaces (the builder never lists those)."""
GRADE_OUTPUT_LIMIT = 4_000_000
"""Characters of test output kept while grading (the -rA summary sits at the end)."""


class TestRun(BaseModel):
    __test__ = False  # not a pytest class

    command: str
    exit_code: int | None
    timed_out: bool = False
    duration: float = 0.0
    statuses: dict[str, str] = Field(default_factory=dict)
    """Test id → PASSED, FAILED, ERROR… as pytest's -rA summary reported it (empty for other runners)."""
    tail: str = ""
    """The end of the output, for the report."""

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Grade(BaseModel):
    resolved: bool
    reason: str
    fail_to_pass: TestRun | None = None
    pass_to_pass: TestRun | None = None
    duration: float = 0.0


def parse_test_report(output: str) -> dict[str, str]:
    """Test id → status from pytest's `-rA` short summary (the last status of an id wins)."""
    return {match.group(2): match.group(1) for match in _REPORT_LINE.finditer(output)}


def run_tests(sandbox: DockerSandbox, command: str, tests: list[str], timeout: float) -> TestRun:
    """Run `command` with the test ids appended; missing or failing ids show in the result."""
    line = f"{command} {' '.join(shlex.quote(test) for test in tests)}"
    began = time.monotonic()
    result = sandbox.exec(line, timeout=timeout)
    statuses = parse_test_report(result.output)
    exit_code = result.exit_code
    if statuses and exit_code == 0 and any(statuses.get(test) not in ("PASSED", "XFAIL") for test in tests):
        exit_code = 1  # a listed id that pytest did not report as passed is not a pass
    return TestRun(
        command=line[:500],
        exit_code=exit_code,
        timed_out=result.timed_out,
        duration=time.monotonic() - began,
        statuses=statuses,
        tail=result.output[-3000:],
    )


def grade_patch(
    task: Task,
    base_repo: Path,
    patch: str,
    scratch: Path,
    sandbox_settings: SandboxSettings,
    timeout: float = 900.0,
) -> Grade:
    """Grade `patch` against the materialized `base_repo` (left untouched); `scratch` is made and removed."""
    began = time.monotonic()
    grade_dir = scratch / "grade"
    shutil.rmtree(grade_dir, ignore_errors=True)
    shutil.copytree(base_repo, grade_dir, symlinks=True)
    try:
        try:
            apply_patch(grade_dir, patch, "the patch")
        except RepoMaterialError as err:
            return Grade(resolved=False, reason=str(err), duration=time.monotonic() - began)
        _restore_test_files(grade_dir, task.test_files())
        try:
            apply_patch(grade_dir, task.test_patch, "test_patch")
        except RepoMaterialError as err:
            return Grade(
                resolved=False, reason=f"{err} (over the agent's changes)", duration=time.monotonic() - began
            )
        settings = sandbox_settings.model_copy(update={"output_limit": GRADE_OUTPUT_LIMIT})
        with DockerSandbox(grade_dir, settings, f"grade-{task.instance_id}") as sandbox:
            f2p = (
                run_tests(sandbox, task.test_command, task.FAIL_TO_PASS, timeout)
                if task.FAIL_TO_PASS
                else None
            )
            p2p = (
                run_tests(sandbox, task.test_command, task.PASS_TO_PASS, timeout)
                if task.PASS_TO_PASS
                else None
            )
    finally:
        shutil.rmtree(grade_dir, ignore_errors=True)
    return _verdict(f2p, p2p, time.monotonic() - began)


def _verdict(f2p: TestRun | None, p2p: TestRun | None, duration: float) -> Grade:
    if f2p is None and p2p is None:
        return Grade(resolved=False, reason="the task lists no tests", duration=duration)
    failing = [name for name, run in (("FAIL_TO_PASS", f2p), ("PASS_TO_PASS", p2p)) if run and not run.passed]
    reason = "all graded tests pass" if not failing else f"{' and '.join(failing)} did not pass"
    return Grade(resolved=not failing, reason=reason, fail_to_pass=f2p, pass_to_pass=p2p, duration=duration)


def _restore_test_files(repo: Path, files: list[str]) -> None:
    """Graded test files go back to the base commit's version (or away, if the base had none)."""
    for name in files:
        target = (repo / name).resolve()
        if not target.is_relative_to(repo.resolve()):
            continue  # a test id naming a file outside the repository: nothing to restore
        try:
            run_git(["checkout", "HEAD", "--", name], repo)
        except GitError:
            target.unlink(missing_ok=True)
