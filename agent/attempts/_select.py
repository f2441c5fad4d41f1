"""Selection among finished attempts, in the issue's order; pure, so every rule is tested directly.

(a) applies and parses → (b) the verify command passes → (c) no test that passed at the base fails
→ (d) passes the other attempts' reproductions → (e) consensus of behaviour, then of diff → (f) a
judge. A step that would drop every remaining candidate decides nothing and says so (the user still
gets the best branch there is); each step records who it kept and why each other was dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable

from pydantic import BaseModel, Field
from qcode.agent.attempts._checks import CheckRun, Evidence

__all__ = ["Judge", "behaviour_digest", "Selection", "Step", "normalise_diff", "select"]

Judge = Callable[[list[int]], tuple[int, str] | None]
"""Remaining attempt numbers → (chosen, reason); None when the engine cannot judge."""


class Step(BaseModel):
    key: str
    """a … f, as the issue orders them."""
    name: str
    kept: list[int] = Field(default_factory=list)
    dropped: dict[int, str] = Field(default_factory=dict)
    note: str = ""


class Selection(BaseModel):
    steps: list[Step] = Field(default_factory=list)
    chosen: int | None = None
    reason: str = ""
    verdicts: dict[int, str] = Field(default_factory=dict)
    """Attempt → why it won or at which step (and why) it lost."""


def select(
    candidates: list[Evidence], base: Evidence, verify_command: str | None, judge: Judge | None = None
) -> Selection:
    selection = Selection()
    alive = [c.attempt for c in candidates]
    by_number = {c.attempt: c for c in candidates}
    steps: list[tuple[str, str, Callable[[list[int]], tuple[dict[int, str], str]]]] = [
        ("a", "applies and parses", lambda ids: (_parses(ids, by_number), "")),
        ("b", "verify passes", lambda ids: _verifies(ids, by_number, verify_command)),
        ("c", "no regression", lambda ids: _regressions(ids, by_number, base, verify_command)),
        ("d", "reproductions", lambda ids: _reproductions(ids, by_number, base)),
    ]
    for key, name, rule in steps:
        dropped, note = rule(alive) if alive else ({}, "")
        if dropped and len(dropped) == len(alive) and key != "a":
            note = f"every remaining attempt failed this step; it decides nothing ({note or 'see below'})"
            for number, why in dropped.items():
                selection.verdicts.setdefault(number, f"also failed ({key}): {why}")
            dropped = {}
        alive = [n for n in alive if n not in dropped]
        _record(selection, key, name, alive, dropped, note)
    alive = _consensus(selection, alive, by_number)
    _judge(selection, alive, judge)
    return selection


def _record(
    selection: Selection, key: str, name: str, kept: list[int], dropped: dict[int, str], note: str
) -> None:
    selection.steps.append(Step(key=key, name=name, kept=list(kept), dropped=dropped, note=note))
    for number, why in dropped.items():
        selection.verdicts[number] = f"lost at ({key}): {why}"


def _parses(ids: list[int], by_number: dict[int, Evidence]) -> dict[int, str]:
    dropped = {}
    for n in ids:
        evidence = by_number[n]
        if not evidence.commit:
            dropped[n] = "the attempt changed no file"
        elif evidence.problems or not evidence.applies:
            dropped[n] = "; ".join(evidence.problems)[:300] or "the patch does not apply"
    return dropped


def _verifies(
    ids: list[int], by_number: dict[int, Evidence], command: str | None
) -> tuple[dict[int, str], str]:
    if command is None:
        return {}, "skipped: no --verify and no test command detected from the repository's files"
    dropped = {}
    for n in ids:
        run = by_number[n].verify
        if run is None or not run.passed:
            code = "timed out" if run is None or run.exit_code is None else f"exited {run.exit_code}"
            dropped[n] = f"`{command}` {code} in a fresh sandbox"
    if ids and len(dropped) == len(ids):
        return _fewest_failures(ids, by_number, dropped, command)
    return dropped, f"`{command}` in a fresh sandbox per attempt"


def _fewest_failures(
    ids: list[int], by_number: dict[int, Evidence], dropped: dict[int, str], command: str
) -> tuple[dict[int, str], str]:
    """No attempt passes (a test that fails whatever the change, a flaky one): those closest to
    passing, by failing test count, go on. Without per-test outcomes the step decides nothing."""
    failing = {n: _failures(by_number[n].verify) for n in ids}
    if any(count is None for count in failing.values()):
        return dropped, f"`{command}` in a fresh sandbox per attempt"
    fewest = min(c for c in failing.values() if c is not None)
    kept_note = f"no attempt passed `{command}`; those with the fewest failing tests ({fewest}) go on"
    return {
        n: f"{failing[n]} failing tests, another attempt {fewest}" for n in ids if failing[n] != fewest
    }, kept_note


def _failures(run: CheckRun | None) -> int | None:
    if run is None or run.exit_code is None or not run.statuses:
        return None
    return sum(status in ("FAILED", "ERROR") for status in run.statuses.values())


def _regressions(
    ids: list[int], by_number: dict[int, Evidence], base: Evidence, command: str | None
) -> tuple[dict[int, str], str]:
    if command is None or base.verify is None:
        return {}, "skipped: no test command"
    passed_at_base = sorted(t for t, s in base.verify.statuses.items() if s == "PASSED")
    dropped = {}
    for n in ids:
        run = by_number[n].verify or CheckRun(exit_code=None)
        if passed_at_base:
            broken = [t for t in passed_at_base if run.statuses.get(t) not in ("PASSED", "XFAIL")]
            if broken:
                dropped[n] = f"{len(broken)} test(s) that pass at the base fail: {', '.join(broken[:3])}"
        elif base.verify.passed and not run.passed:
            dropped[n] = "the test command passes at the base and fails here"
    how = (
        f"{len(passed_at_base)} tests passed at the base"
        if passed_at_base
        else "per-test outcomes unknown: exit codes compared"
    )
    return dropped, how


def _reproductions(
    ids: list[int], by_number: dict[int, Evidence], base: Evidence
) -> tuple[dict[int, str], str]:
    valid = sorted(n for n, ok in base.reproductions.items() if not ok)
    if not valid:
        return {}, "skipped: no attempt wrote a test that fails at the base"
    failing = {n: [r for r in valid if not by_number[n].reproductions.get(r, True)] for n in ids}
    fewest = min(len(f) for f in failing.values())
    dropped = {
        n: "fails the reproduction tests of attempt(s) " + ", ".join(map(str, f))
        for n, f in failing.items()
        if len(f) > fewest
    }
    return dropped, f"reproductions (fail at the base) from attempt(s) {', '.join(map(str, valid))}"


def _behaviour(evidence: Evidence) -> tuple[object, ...]:
    run = evidence.verify
    outcome = tuple(sorted(run.statuses.items())) if run and run.statuses else (run.passed if run else None)
    return (outcome, tuple(sorted(evidence.reproductions.items())))


def behaviour_digest(evidence: Evidence) -> str:
    """A short digest of what the tests saw; '' when the attempt was not tested."""
    if not evidence.commit or (evidence.verify is None and not evidence.reproductions):
        return ""
    return hashlib.sha256(repr(_behaviour(evidence)).encode()).hexdigest()[:12]


def normalise_diff(diff: str) -> str:
    """The changed lines alone, whitespace collapsed: two attempts that wrote the same fix with
    other spacing, context or hunk order group together."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")) or line[:1] not in "+-":
            continue
        body = re.sub(r"\s+", " ", line[1:]).strip()
        if body:
            lines.append(line[0] + body)
    return "\n".join(sorted(lines))


def _largest(ids: list[int], key: Callable[[int], object]) -> tuple[list[int], dict[int, int]]:
    groups: dict[object, list[int]] = defaultdict(list)
    for n in ids:
        groups[key(n)].append(n)
    top = max(len(g) for g in groups.values())
    kept = [n for g in groups.values() if len(g) == top for n in g]
    sizes = {n: len(groups[key(n)]) for n in ids}
    return sorted(kept), sizes


def _consensus(selection: Selection, alive: list[int], by_number: dict[int, Evidence]) -> list[int]:
    if len(alive) < 2:
        _record(selection, "e", "consensus", alive, {}, "skipped: one attempt or none left")
        return alive
    kept, sizes = _largest(alive, lambda n: _behaviour(by_number[n]))
    top = max(sizes.values())
    dropped = {
        n: f"behaves like {sizes[n]} attempt(s), the largest group like {top}" for n in alive if n not in kept
    }
    kept2, sizes2 = _largest(kept, lambda n: normalise_diff(by_number[n].diff))
    top2 = max(sizes2.values())
    dropped |= {n: f"its diff is shared by {sizes2[n]}, another by {top2}" for n in kept if n not in kept2}
    note = "grouped by test outcomes, then by normalised diff"
    if len(kept2) > 1:
        note += "; tied, the tie goes on"
    _record(selection, "e", "consensus", kept2, dropped, note)
    return kept2


def _judge(selection: Selection, alive: list[int], judge: Judge | None) -> None:
    if not alive:
        selection.reason = "no attempt produced a change that applies and parses"
        _record(selection, "f", "judge", [], {}, "skipped: nothing left")
        return
    if len(alive) == 1:
        selection.chosen = alive[0]
        selection.reason = _why_won(selection, alive[0])
        _record(selection, "f", "judge", alive, {}, "skipped: one attempt left")
    else:
        verdict = judge(alive) if judge is not None else None
        if verdict is not None and verdict[0] in alive:
            chosen, reason = verdict
            dropped = {n: f"the judge preferred attempt {chosen}: {reason}" for n in alive if n != chosen}
            _record(selection, "f", "judge", [chosen], dropped, f"the model judged: {reason}")
            selection.chosen, selection.reason = chosen, f"chosen by the judge: {reason}"
        else:
            chosen = alive[0]
            why = (
                "skipped: the engine cannot judge (scripted)"
                if judge is None
                else "the judge gave no valid choice"
            )
            dropped = {
                n: f"tied with attempt {chosen}; the first remaining attempt was taken" for n in alive[1:]
            }
            _record(selection, "f", "judge", [chosen], dropped, why)
            selection.chosen, selection.reason = chosen, f"tied after (e); {why}; the first remaining attempt"
    selection.verdicts[selection.chosen] = f"chosen: {selection.reason}"


def _why_won(selection: Selection, chosen: int) -> str:
    decided = [s for s in selection.steps if s.dropped]
    if not decided:
        return "the only attempt with a change"
    return "the only attempt left after " + ", ".join(f"({s.key}) {s.name}" for s in decided)
