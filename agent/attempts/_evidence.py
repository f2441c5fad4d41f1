"""Gather the selection's evidence: the base run (cached) and each candidate's checks, each in a
fresh copy and a fresh sandbox, candidates side by side."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from qcode.agent.attempts._checks import BaseCache, Checker, Evidence
from qcode.agent.attempts._select import select
from qcode.agent.session import RunResult

__all__ = ["gather", "quick_verified"]

CHECK_WORKERS = 4
"""Candidates checked at once (each holds one sandbox)."""
DIFF_CHARS = 200_000
"""Characters of a candidate's patch kept for consensus and the judge."""

Results = dict[int, "RunResult | BaseException"]

_log = logging.getLogger("qcode.attempts")


def _commit(result: RunResult | BaseException | None) -> str | None:
    if not isinstance(result, RunResult) or not result.commit:
        return None
    return None if result.reason.startswith("interrupted") else result.commit  # stopped halfway


def gather(
    checker: Checker, results: Results, verify: str | None, cache_dir: Path
) -> tuple[list[Evidence], Evidence]:
    commits = {k: _commit(r) for k, r in sorted(results.items())}
    tests = {k: checker.reproduction_tests(c) for k, c in commits.items() if c}
    tests = {k: files for k, files in tests.items() if files}
    base = base_evidence(checker, verify, BaseCache(cache_dir), tests)
    valid = {k: files for k, files in tests.items() if not base.reproductions.get(k, True)}

    def one(k: int) -> Evidence:
        return candidate_evidence(checker, k, commits[k], verify, valid, results[k])

    with ThreadPoolExecutor(max_workers=CHECK_WORKERS, thread_name_prefix="check") as pool:
        evidence = list(pool.map(one, list(commits)))
    return evidence, base


def base_evidence(
    checker: Checker, verify: str | None, cache: BaseCache, tests: dict[int, dict[str, str]]
) -> Evidence:
    base = Evidence(attempt=0, commit=checker.base)
    cached = cache.get(checker.base, verify) if verify else None
    if cached is not None and not tests:
        base.verify = cached
        return base
    if verify is None and not tests:
        return base
    with checker.copy("base") as folder, checker.sandbox(folder, "base") as box:
        if verify is not None:
            base.verify = cached or checker.run_tests(box, verify)
            if cached is None:
                cache.put(checker.base, verify, base.verify)
        base.reproductions = checker.reproduce(box, folder, tests)
    return base


def candidate_evidence(
    checker: Checker,
    k: int,
    commit: str | None,
    verify: str | None,
    tests: dict[int, dict[str, str]],
    result: RunResult | BaseException | None,
) -> Evidence:
    evidence = Evidence(attempt=k, commit=commit)
    if commit is None:
        return evidence
    if isinstance(result, RunResult) and result.patch:
        try:
            with open(result.patch, encoding="utf-8", errors="replace") as patch:
                evidence.diff = patch.read(DIFF_CHARS)
        except OSError:
            evidence.diff = ""
    with checker.copy(f"attempt-{k}") as folder:
        evidence.changed, evidence.problems = checker.apply(folder, commit)
        evidence.applies = not any("does not apply" in p for p in evidence.problems)
        if evidence.problems or (verify is None and not tests):
            return evidence
        with checker.sandbox(folder, f"attempt-{k}") as box:
            if verify is not None:
                evidence.verify = checker.run_tests(box, verify)
            evidence.reproductions = checker.reproduce(box, folder, tests)
    return evidence


def quick_verified(checker: Checker, k: int, result: RunResult, verify: str | None, state: Path) -> bool:
    """For `--attempts-stop first-verified`: (a)–(c) pass and the attempt's own reproduction test
    failed at the base and passes on it. A check that fails (Docker, git) only means "not yet":
    the others go on, and the full selection runs the checks again at the end."""
    try:
        return _quick_verified(checker, k, result, verify, state)
    except Exception as err:  # noqa: BLE001 - Docker's and git's errors alike; the selection reports them
        _log.warning("early check of attempt %d failed: %s", k, err)
        return False


def _quick_verified(checker: Checker, k: int, result: RunResult, verify: str | None, state: Path) -> bool:
    commit = _commit(result)
    if commit is None or verify is None:
        return False
    tests = checker.reproduction_tests(commit)
    if not tests:
        return False
    base = base_evidence(checker, verify, BaseCache(state / "attempts" / "base-cache"), {k: tests})
    if base.reproductions.get(k, True):
        return False  # the test passes at the base: it reproduces nothing
    evidence = candidate_evidence(checker, k, commit, verify, {k: tests}, result)
    if not evidence.reproductions.get(k, False):
        return False
    picked = select([evidence], base, verify)
    return all(not step.dropped and not step.note.startswith("every") for step in picked.steps)
