"""Diagnostics after every change: what an edit, a write or a shell command broke in a file.

`ChangeChecker` lives on the ToolContext for a session. Before a change it takes a baseline of
the file's problems (remembered from the last check when the content is the same), after it the
new problems; only those the change introduced are reported, appended to the same observation.
Files are read through `paths.open_in_workspace` (no symlink the sandbox swaps in is followed);
the syntax tier runs on the host over that text, the lint tier runs in the sandbox.
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from qcode.agent.contracts import Observation, Sandbox
from qcode.agent.exceptions import ToolError
from qcode.tools import paths
from qcode.tools.diagnostics import (
    MAX_CHECK_BYTES,
    Parsed,
    Problem,
    ProblemKey,
    SyntaxResult,
    introduced,
    problem_keys,
    render_problems,
    syntax_check,
)
from qcode.tools.lint import DEFAULT_LINT_COMMANDS, command_for, run_lint

__all__ = ["Baseline", "ChangeChecker", "CheckReport", "DiagnosticsConfig", "with_report"]

Mode = Literal["syntax", "lint", "off"]
MAX_TRACKED = 200
"""Files whose last problems are remembered; the oldest are forgotten (then re-checked)."""
KEPT_TREES = 8
"""Parse trees kept for incremental re-parsing: the files edited last (a tree costs about its file's size)."""
SHELL_RECHECK = 20
"""After a shell command, at most this many of the model's most recently edited files are re-read."""
SHELL_RELINT = 3
"""…and at most this many of those that changed are linted again (each costs a sandbox command)."""


class DiagnosticsConfig(BaseModel):
    mode: Mode = "syntax"
    """`syntax`: tree-sitter on the host; `lint`: that plus the lint commands in the sandbox; `off`."""
    lint_commands: dict[str, str] = Field(default_factory=dict)
    """File pattern → command ({file} is the path); over the defaults, which an empty command turns off."""
    lint_timeout: float = Field(20.0, gt=0, le=120)
    """Seconds one lint command may run."""

    @field_validator("lint_commands")
    @classmethod
    def _bounded(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 32 or any(len(k) > 200 or len(v) > 2000 for k, v in value.items()):
            raise ValueError("at most 32 lint commands, patterns ≤ 200 and commands ≤ 2000 characters")
        return value

    def commands(self) -> dict[str, str]:
        return {
            **self.lint_commands,
            **{k: v for k, v in DEFAULT_LINT_COMMANDS.items() if k not in self.lint_commands},
        }


@dataclass(frozen=True)
class Baseline:
    """A file's problems before a change, as keys that survive line shifts."""

    digest: bytes | None
    syntax: Counter[ProblemKey] = field(default_factory=Counter)
    lint: Counter[ProblemKey] | None = None
    """None when the lint tier did not run (off, no command for the file, or no answer)."""


@dataclass
class CheckReport:
    """What a change introduced: text appended to the observation, data for UIs."""

    text: str = ""
    problems: list[dict[str, object]] = field(default_factory=list)
    syntax_broken: list[str] = field(default_factory=list)
    """Files where the change introduced a syntax error: the observation is not ok."""
    notes: list[str] = field(default_factory=list)

    def extend(self, other: CheckReport) -> None:
        self.text = "\n".join(t for t in (self.text, other.text) if t)
        self.problems += other.problems
        self.syntax_broken += other.syntax_broken
        self.notes += other.notes


class ChangeChecker:
    def __init__(self, config: DiagnosticsConfig | None = None) -> None:
        self.config = config or DiagnosticsConfig()
        self._known: OrderedDict[str, Baseline] = OrderedDict()
        """Path → problems of the content last seen after a check (the model's edited files)."""
        self._trees: OrderedDict[str, Parsed] = OrderedDict()

    def baseline(self, root: Path, sandbox: Sandbox | None, path: str) -> Baseline:
        """The problems of `path` now, before a change (a file that does not exist has none)."""
        if self.config.mode == "off":
            return Baseline(None)
        rel = _relative(root, path)
        text = _read(root, rel) if rel else None
        if rel is None or text is None:  # a new file: nothing was wrong with it before
            return Baseline(None, Counter(), Counter())
        digest = _digest(text)
        known = self._known.get(rel)
        if known is not None and known.digest == digest and (known.lint is not None or not self._lints(rel)):
            return known
        lines = text.split("\n")
        syntax = problem_keys(self._syntax(text, rel).problems or [], lines)
        lint = None
        if self._lints(rel) and sandbox is not None:
            found = self._lint(sandbox, rel)
            lint = problem_keys(found, lines) if isinstance(found, list) else None
        baseline = Baseline(digest, syntax, lint)
        self._remember(rel, baseline)
        return baseline

    def after(self, root: Path, sandbox: Sandbox | None, path: str, before: Baseline) -> CheckReport:
        """The problems the change to `path` introduced; remembers the new state for the next one."""
        report = CheckReport()
        rel = _relative(root, path) if self.config.mode != "off" else None
        text = _read(root, rel) if rel else None
        if rel is None or text is None:
            return report
        lines = text.split("\n")
        checked = self._syntax(text, rel)
        found = checked.problems
        syntax_new = introduced(before.syntax, found or [], lines) + checked.emptied
        lint_new: list[Problem] = []
        lint_keys = None
        if self._lints(rel) and sandbox is not None:
            linted = self._lint(sandbox, rel)
            if isinstance(linted, str):
                report.notes.append(linted)
            else:
                lint_keys = problem_keys(linted, lines)
                lint_new = introduced(before.lint, linted, lines) if before.lint is not None else []
        self._remember(rel, Baseline(_digest(text), problem_keys(found or [], lines), lint_keys))
        new = syntax_new + lint_new
        if syntax_new:
            report.syntax_broken.append(rel)
        if new:
            what = "a syntax error" if syntax_new else "new lint problems"
            report.text = (
                f"Diagnostics: this change introduced {what} in {rel} (the change was applied; "
                f"fix it with another edit):\n" + render_problems(rel, new, lines)
            )
            report.problems = [
                {"path": rel, "line": p.line, "message": p.message, "source": p.source} for p in new
            ]
        return report

    def after_shell(self, root: Path, sandbox: Sandbox | None) -> CheckReport:
        """Re-check the model's edited files that a shell command changed since their last check."""
        report = CheckReport()
        if self.config.mode == "off":
            return report
        relinted = 0
        for path in list(self._known)[-SHELL_RECHECK:]:
            known = self._known[path]
            text = _read(root, path)
            if text is None or _digest(text) == known.digest:
                continue
            lints = self._lints(path) and relinted < SHELL_RELINT
            relinted += lints
            before = known if lints else Baseline(known.digest, known.syntax, None)
            report.extend(self.after(root, sandbox if lints else None, path, before))
        return report

    def _syntax(self, text: str, path: str) -> SyntaxResult:
        """Problems of `text`, re-parsing incrementally from the file's last parse when there is one."""
        result = syntax_check(text, path, self._trees.pop(path, None))
        if result.parsed is not None:
            self._trees[path] = result.parsed
            while len(self._trees) > KEPT_TREES:
                self._trees.popitem(last=False)
        return result

    def _lints(self, path: str) -> bool:
        return self.config.mode == "lint" and command_for(path, self.config.commands()) is not None

    def _lint(self, sandbox: Sandbox, path: str) -> list[Problem] | str:
        found = command_for(path, self.config.commands())
        assert found is not None
        pattern, command = found
        return run_lint(sandbox, path, pattern, command, self.config.lint_timeout)

    def _remember(self, path: str, baseline: Baseline) -> None:
        self._known[path] = baseline
        self._known.move_to_end(path)
        while len(self._known) > MAX_TRACKED:
            self._known.popitem(last=False)


def with_report(observation: Observation, report: CheckReport) -> Observation:
    """The observation with the report appended; not ok when the change broke a file's syntax."""
    if report.text:
        observation.text = f"{observation.text.rstrip()}\n\n{report.text}"
        observation.data["diagnostics"] = report.problems
    if report.notes:
        observation.text += "\n[diagnostics: " + "; ".join(report.notes) + "]"
    if report.syntax_broken:
        observation.ok = False
        # The same key for every break of the same files, so a model that keeps breaking them is
        # caught by stuck detection's repeated-error rule however its edits differ.
        observation.data["stuck_key"] = "syntax error introduced in " + ", ".join(
            sorted(report.syntax_broken)
        )
    return observation


def _relative(root: Path, path: str) -> str | None:
    try:
        return paths.workspace_relative(root, paths.resolve_in_workspace(root, path))
    except (ToolError, ValueError, OSError):
        return None


def _read(root: Path, path: str) -> str | None:
    """The file's text through the race-safe reader; None for missing, large or binary files."""
    try:
        with paths.open_in_workspace(root, path, "rb") as handle:
            data = handle.read(MAX_CHECK_BYTES + 1)
    except (ToolError, OSError):
        return None
    if len(data) > MAX_CHECK_BYTES or b"\x00" in data[:8192]:
        return None
    text: str = data.decode("utf-8", "surrogateescape")
    return text


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).digest()
