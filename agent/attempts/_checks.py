"""The evidence selection works from: each candidate's patch applied to a fresh copy of the base,
checked for syntax, tested in a fresh sandbox, and run against every attempt's reproduction tests.

Only what a user has is used: the repository, its tests and the attempts' own tests. Repository
code runs only in sandboxes; host git applies patches with hooks and filters disabled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from qcode.agent.exceptions import QcodeError
from qcode.agent.workspace import remove_tree, run_git
from qcode.sandbox.container import DockerSandbox, SandboxSettings
from qcode.tools.diagnostics import syntax_problems

__all__ = [
    "CheckRun",
    "Checker",
    "Evidence",
    "detect_test_command",
    "is_test_file",
    "parse_statuses",
]

CHECK_OUTPUT_LIMIT = 2_000_000
"""Characters of test output kept per check run (pytest's -rA summary sits at the end)."""
MAX_REPRO_FILES = 20
"""Reproduction test files taken from one attempt; more are ignored (a model that writes 5,000)."""
MAX_REPRO_BYTES = 256_000
"""Bytes of one reproduction test file; a larger file is not used."""
BASE_CACHE_ENTRIES = 64
"""Base runs kept in the cache (one per base commit and command)."""
MAX_SYNTAX_FILES = 200
"""Changed files checked for syntax per candidate."""
_STATUS_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (.+?)(?: - .*)?$", re.M)
_TEST_FILE = re.compile(r"(^|/)(test_[^/]*\.py|[^/]*_test\.py|conftest\.py)$|(^|/)tests?/[^/]*\.py$")


def is_test_file(path: str) -> bool:
    """A Python test file by pytest's conventions (test_*.py, *_test.py, under tests/)."""
    return bool(_TEST_FILE.search(path)) and not path.endswith("conftest.py")


def detect_test_command(files: list[str]) -> str | None:
    """The test command a repository's files point to, or None. Only fixed commands: a
    repository's file names choose among them, never supply one."""
    names = set(files)
    tops = {name for name in names if "/" not in name}
    if tops & {"pytest.ini", "conftest.py", "tox.ini"} or any(is_test_file(name) for name in names):
        return "python -m pytest -q -p no:cacheprovider"
    if "package.json" in tops:
        return "npm test"
    if "go.mod" in tops:
        return "go test ./..."
    if "Cargo.toml" in tops:
        return "cargo test"
    return None


def parse_statuses(output: str) -> dict[str, str]:
    """Test id → PASSED/FAILED/… from pytest's -rA summary (empty for other runners)."""
    return {match.group(2): match.group(1) for match in _STATUS_LINE.finditer(output)}


def _with_report_flag(command: str) -> str:
    """pytest prints per-test outcomes with -rA; other commands are left alone."""
    return f"{command} -rA" if "pytest" in command and "-rA" not in command.split() else command


@dataclass
class CheckRun:
    """One test command's outcome in a check sandbox."""

    exit_code: int | None
    statuses: dict[str, str] = field(default_factory=dict)
    tail: str = ""

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    def to_json(self) -> dict[str, object]:
        return {"exit_code": self.exit_code, "statuses": self.statuses, "tail": self.tail}


@dataclass
class Evidence:
    """What the checks found for one candidate (or for the base, attempt 0)."""

    attempt: int
    commit: str | None = None
    changed: list[str] = field(default_factory=list)
    applies: bool = True
    problems: list[str] = field(default_factory=list)
    """Why the patch does not apply or a changed file does not parse."""
    verify: CheckRun | None = None
    reproductions: dict[int, bool] = field(default_factory=dict)
    """Attempt whose tests were run → whether they passed on this candidate."""
    diff: str = ""


class Checker:
    """Fresh copies of the base and fresh sandboxes for the checks of one attempts run."""

    def __init__(
        self, repo: Path, base: str, scratch: Path, sandbox: SandboxSettings, run_id: str, timeout: float
    ) -> None:
        self.repo, self.base, self.run_id, self.timeout = repo, base, run_id, timeout
        self.scratch = scratch.absolute()  # git runs in other folders: a relative state dir would move
        self.sandbox_settings = sandbox.model_copy(update={"output_limit": CHECK_OUTPUT_LIMIT})
        self.sandbox_ids: list[str] = []
        """Every check sandbox started (their containers carry qcode.session=<id>)."""

    @contextmanager
    def copy(self, name: str) -> Iterator[Path]:
        """A fresh clone of the base commit, removed afterwards."""
        folder = self.scratch / name
        remove_tree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        run_git(
            ["clone", "--quiet", "--no-hardlinks", "--no-checkout", str(self.repo), str(folder)],
            folder.parent,
        )
        try:
            run_git(["checkout", "--quiet", "--detach", self.base], folder)
            yield folder
        finally:
            remove_tree(folder)

    @contextmanager
    def sandbox(self, folder: Path, name: str) -> Iterator[DockerSandbox]:
        sandbox_id = f"{self.run_id}-{name}"
        self.sandbox_ids.append(sandbox_id)
        with DockerSandbox(folder, self.sandbox_settings, sandbox_id) as box:
            yield box

    def apply(self, folder: Path, commit: str) -> tuple[list[str], list[str]]:
        """Apply base..commit to the copy: (changed paths, problems)."""
        patch = folder.parent / f".{folder.name}.diff"
        try:
            run_git(
                [
                    "diff",
                    "--binary",
                    "--no-ext-diff",
                    "--no-textconv",
                    self.base,
                    commit,
                    "--output",
                    str(patch),
                ],
                self.repo,
            )
            changed = run_git(["diff", "--name-only", "--no-renames", self.base, commit], self.repo).split(
                "\n"
            )
            run_git(["apply", "--whitespace=nowarn", str(patch)], folder)
        except QcodeError as err:
            return [], [f"the patch does not apply to the base: {err}"]
        finally:
            patch.unlink(missing_ok=True)
        changed = [name for name in changed if name]
        return changed, self.syntax(folder, changed)

    def syntax(self, folder: Path, changed: list[str]) -> list[str]:
        """Changed files that parse worse than at the base (tree-sitter, else Python's compile)."""
        problems: list[str] = []
        for name in changed[:MAX_SYNTAX_FILES]:
            after = _read(folder, name)
            if after is None:
                continue
            before = _git_text(self.repo, self.base, name)
            found = _parse_problems(after, name)
            if found and (before is None or len(_parse_problems(before, name)) < len(found)):
                problems.append(f"{name} does not parse: {found[0]}")
        return problems

    def run_tests(self, box: DockerSandbox, command: str) -> CheckRun:
        outcome = box.exec(_with_report_flag(command), timeout=self.timeout)
        return CheckRun(
            exit_code=None if outcome.timed_out else outcome.exit_code,
            statuses=parse_statuses(outcome.output),
            tail=outcome.output[-1500:],
        )

    def reproduce(
        self, box: DockerSandbox, folder: Path, tests: dict[int, dict[str, str]]
    ) -> dict[int, bool]:
        """Each attempt's test files written over the copy, run, and taken away again."""
        passed: dict[int, bool] = {}
        for attempt, files in tests.items():
            with box.paused():  # nothing in the sandbox may swap a folder for a link meanwhile
                saved = {name: _read(folder, name) for name in files}
                for name, text in files.items():
                    _write(folder, name, text)
            quoted = " ".join(shlex.quote(name) for name in files)
            outcome = box.exec(f"python -m pytest -q -p no:cacheprovider {quoted}", timeout=self.timeout)
            passed[attempt] = outcome.exit_code == 0 and not outcome.timed_out
            with box.paused():
                for name, original in saved.items():
                    if original is None:
                        _remove(folder, name)
                    else:
                        _write(folder, name, original)
        return passed

    def reproduction_tests(self, commit: str) -> dict[str, str]:
        """The Python test files an attempt added or changed, with their text (bounded)."""
        changed = run_git(
            ["diff", "--name-only", "--no-renames", "--diff-filter=AM", self.base, commit], self.repo
        )
        files: dict[str, str] = {}
        for name in [n for n in changed.split("\n") if n and is_test_file(n)][:MAX_REPRO_FILES]:
            size = run_git(["cat-file", "-s", f"{commit}:{name}"], self.repo).strip()
            if int(size or 0) <= MAX_REPRO_BYTES:
                files[name] = run_git(["show", f"{commit}:{name}"], self.repo)
        return files


class BaseCache:
    """The base's test outcomes per (commit, command), kept under the state folder: the base run
    costs a whole test suite and does not change between attempts runs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, base: str, command: str) -> Path:
        key = hashlib.sha256(f"{base}\0{command}".encode()).hexdigest()[:24]
        return self.folder / f"{key}.json"

    def get(self, base: str, command: str) -> CheckRun | None:
        try:
            data = json.loads(self._path(base, command).read_text(encoding="utf-8"))
            return CheckRun(
                exit_code=data["exit_code"], statuses=dict(data["statuses"]), tail=str(data["tail"])
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or corrupt: run the base again

    def put(self, base: str, command: str, run: CheckRun) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(base, command)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(run.to_json()), encoding="utf-8")
        partial.replace(path)
        kept = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in kept[BASE_CACHE_ENTRIES:]:  # bounded: the oldest bases go first
            stale.unlink(missing_ok=True)


def _parse_problems(text: str, name: str) -> list[str]:
    found = syntax_problems(text, name)
    if found is not None:
        return [f"line {p.line}: {p.message}" for p in found]
    if not name.endswith(".py"):
        return []
    try:
        compile(text, name, "exec", dont_inherit=True)  # parses only; nothing runs
    except SyntaxError as err:
        return [f"line {err.lineno}: {err.msg}"]
    except ValueError as err:  # null bytes
        return [str(err)]
    return []


_SAVE_LIMIT = 1_000_000
"""Bytes of a check copy's file kept aside while another attempt's test file stands in its place."""


def _inside(folder: Path, name: str) -> Path | None:
    """`folder / name` when every folder on the way is a real folder inside `folder`; None when a
    test run swapped one for a link (or it is missing): nothing may be read or removed through it."""
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise QcodeError(f"refusing test path {name!r}")
    path = folder
    for part in Path(name).parts[:-1]:
        path = path / part
        if path.is_symlink() or not path.is_dir():
            return None
    return path / Path(name).name


def _read(folder: Path, name: str) -> str | None:
    """The file's text, read without following a link anywhere on its path; None if there is none."""
    path = _inside(folder, name)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None
        data = file.read(_SAVE_LIMIT + 1)
    return None if len(data) > _SAVE_LIMIT else data.decode("utf-8", "surrogateescape")


def _remove(folder: Path, name: str) -> None:
    """Remove the file a reproduction added, never through a planted link."""
    path = _inside(folder, name)
    if path is not None:
        with suppress(OSError):
            path.unlink()  # a link itself is removed, never its target


def _write(folder: Path, name: str, text: str) -> None:
    """Write inside `folder` only: a component that is a link (planted by a test run) is replaced,
    never followed."""
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise QcodeError(f"refusing test path {name!r}")
    path = folder
    for part in Path(name).parts[:-1]:
        path = path / part
        if path.is_symlink():
            path.unlink()
        path.mkdir(exist_ok=True)
    target = path / Path(name).name
    if target.is_symlink():
        target.unlink()
    target.write_text(text, encoding="utf-8", errors="surrogateescape")


def _git_text(repo: Path, commit: str, name: str) -> str | None:
    try:
        return run_git(["show", f"{commit}:{name}"], repo)
    except QcodeError:
        return None
