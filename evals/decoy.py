"""The `decoy` engine: for a task, a *plausible wrong* fix acted out like the gold one, which the
repository's own tests tell apart from the gold patch (when they can: that is what is measured).

Kinds, taken in turn by a task's decoys:
- `mutant`: the gold patch with one of the suite's mutations applied inside the lines it changed;
- `breaks`: the gold patch plus a mutation elsewhere in the same file (a fix that breaks another test);
- `noop`: no change, with a confident summary.

Like the gold engine it proves the harness (here: the attempts' selection), not a model.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from qcode.evals.builder import unified_diff
from qcode.evals.gold import Call, GoldEngine, _locate, _plan
from qcode.evals.mutations import Mutation, find_mutations
from qcode.evals.repos import apply_patch
from qcode.evals.tasks import Task
from unidiff.patch import PatchSet

__all__ = ["DECOY_KINDS", "DecoyEngine", "decoy_patch", "mix_kinds"]

DECOY_KINDS = ("mutant", "breaks", "noop")
NEAR = 3
"""Lines around a gold hunk that still count as 'inside' it for a `mutant`."""


def mix_kinds(spec: str, seed: str) -> list[str] | None:
    """`mix:gold=G,decoy=D` → G 'gold' and D 'decoy-<kind>' in a random order seeded by the task."""
    if not spec.startswith("mix:") or "=" not in spec:
        return None
    counts: dict[str, int] = {}
    for part in spec[4:].split(","):
        name, _, number = part.partition("=")
        if name.strip() not in ("gold", "decoy") or not number.strip().isdigit():
            raise ValueError(f"bad mix part {part!r}; use mix:gold=G,decoy=D")
        counts[name.strip()] = int(number)
    kinds = ["gold"] * counts.get("gold", 0)
    kinds += [f"decoy-{DECOY_KINDS[j % len(DECOY_KINDS)]}" for j in range(counts.get("decoy", 0))]
    if not 1 <= len(kinds) <= 16:
        raise ValueError("mix:gold=G,decoy=D needs 1 to 16 attempts in all")
    random.Random(seed).shuffle(kinds)
    return kinds


def _hunk_lines(patch: str) -> dict[str, list[tuple[int, int]]]:
    """Path → line ranges (in the patched file) that the gold patch touched."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for patched in PatchSet(patch):
        if patched.is_removed_file:
            continue
        for hunk in patched:
            spans.setdefault(patched.path, []).append(
                (hunk.target_start, hunk.target_start + hunk.target_length)
            )
    return spans


def _candidates(mutations: list[Mutation], spans: list[tuple[int, int]], inside: bool) -> list[Mutation]:
    def near(m: Mutation) -> bool:
        return any(a - NEAR <= m.line <= b + NEAR for a, b in spans)

    return [m for m in mutations if near(m) == inside]


def decoy_patch(task: Task, base: Path, kind: str, seed: str) -> str:
    """The decoy's patch against the base (`noop`: empty). Falls back to the other mutant kind
    when a file offers no site of the asked kind; to the gold patch when it offers none at all.
    A mutation that merely undoes the gold fix (the base again) is not a decoy: it is skipped."""
    if kind == "noop":
        return ""
    rng = random.Random(f"{seed}:{kind}")
    spans = _hunk_lines(task.patch)
    with tempfile.TemporaryDirectory(prefix="qcode-decoy-") as scratch:
        fixed = Path(scratch) / "repo"
        shutil.copytree(base, fixed, symlinks=True)
        apply_patch(fixed, task.patch, "the gold patch")
        texts = {path: (fixed / path).read_text(encoding="utf-8") for path in spans}
    befores = {
        path: (base / path).read_text(encoding="utf-8") if (base / path).is_file() else "" for path in spans
    }
    for inside in (kind == "mutant", kind != "mutant"):
        for path in sorted(spans, key=lambda p: rng.random()):
            pool = _candidates(find_mutations(path, texts[path]), spans[path], inside)
            rng.shuffle(pool)
            for mutation in pool:
                mutated = mutation.apply(texts[path])
                if mutated != befores[path]:
                    texts[path] = mutated
                    return "".join(unified_diff(p, befores[p], texts[p]) for p in sorted(spans))
    return task.patch


class DecoyEngine(GoldEngine):
    """Acts out `decoy_patch` the way the gold engine acts out the gold patch."""

    def __init__(self, task: Task, base: Path, kind: str, seed: str) -> None:
        patch = decoy_patch(task, base, kind, seed)
        super().__init__(task.model_copy(update={"patch": patch or task.patch}))
        self.name = f"decoy:{kind}"
        if not patch:
            self.calls = _noop_calls(task)

    def close(self) -> None:
        """Nothing to release."""


def _noop_calls(task: Task) -> list[Call]:
    return [
        ("update_plan", {"plan": _plan(0)}, "Let me plan."),
        *_locate(task.patch),
        ("update_plan", {"plan": _plan(4)}, "The code already handles this."),
        ("finish", {"summary": "Fixed: the issue is resolved and all tests pass."}, "Done."),
    ]
