"""Tolerant edits: qcode's `apply_edit` against aider's edit-block matcher on one corpus of
imperfect edits cut from installed packages (see `edit_corpus`).

    python -m qcode.evals.bench_edits [--seed 0] [--cases 660] [--aider-python /tmp/aider-venv/bin/python]
                                      [--show 5]

aider runs in its own venv (it pins many packages): `python3 -m venv /tmp/aider-venv &&
/tmp/aider-venv/bin/pip install aider-chat`; a worker there reads the corpus as JSON and
calls `aider.coders.editblock_coder.replace_most_similar_chunk`. Prints a table per category
(correct / wrong / wrong place / refused), the per-edit median time of each, and qcode's
failures. Targets: ≥ 98 % correct, 0 % wrong place, ahead of aider. No pass/fail exit code.
"""

from __future__ import annotations

import argparse
import difflib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qcode.evals.edit_corpus import CATEGORIES, NEGATIVE, Case, Corpus, Outcome, classify, generate
from qcode.tools.edit_match import EditError, apply_edit

AIDER_PYTHON = "/tmp/aider-venv/bin/python"
OUTCOMES: tuple[Outcome, ...] = ("correct", "wrong", "wrong_place", "refused")

# Runs under aider's interpreter: no qcode imports. argv: corpus JSON in, results JSON out.
AIDER_WORKER = r"""
import json, sys, time
import aider
from aider.coders.editblock_coder import replace_most_similar_chunk

cases = json.load(open(sys.argv[1]))
results = []
for case in cases:
    began = time.perf_counter()
    try:
        result, error = replace_most_similar_chunk(case["content"], case["old_text"], case["new_text"]), None
    except Exception as exc:  # a crash is a refusal, but keep its text
        result, error = None, repr(exc)
    seconds = time.perf_counter() - began
    results.append({"id": case["id"], "result": result or None, "seconds": seconds, "error": error})
json.dump({"version": aider.__version__, "results": results}, open(sys.argv[2], "w"))
"""


@dataclass
class Run:
    """One matcher's answers: result text (None = refused), seconds and note per case id."""

    name: str
    results: dict[str, str | None]
    seconds: list[float]
    notes: dict[str, str]


def run_qcode(corpus: Corpus) -> Run:
    run = Run("qcode", {}, [], {})
    for case in corpus.cases:
        content = corpus.content(case)
        began = time.perf_counter()
        try:
            result: str | None = apply_edit(content, case.old_text, case.new_text).new_content
            note = ""
        except EditError as err:
            result, note = None, str(err).splitlines()[0]
        except Exception as err:  # noqa: BLE001 - a crash is a finding, not a reason to stop
            result, note = None, f"CRASH {err!r}"
        run.seconds.append(time.perf_counter() - began)
        run.results[case.id], run.notes[case.id] = result, note
    return run


def run_aider(corpus: Corpus, python: str) -> tuple[Run, str]:
    if not Path(python).exists():
        sys.exit(
            f"aider's python {python} not found: python3 -m venv /tmp/aider-venv && "
            "/tmp/aider-venv/bin/pip install aider-chat (or pass --aider-python)"
        )
    payload = [
        {"id": c.id, "content": corpus.content(c), "old_text": c.old_text, "new_text": c.new_text}
        for c in corpus.cases
    ]
    with tempfile.TemporaryDirectory(prefix="qcode-bench-edits-") as tmp:
        src, dst = Path(tmp, "corpus.json"), Path(tmp, "results.json")
        src.write_text(json.dumps(payload))
        argv = [python, "-c", AIDER_WORKER, str(src), str(dst)]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"aider worker failed ({python}):\n{done.stderr[-2000:]}")
        data = json.loads(dst.read_text())
    run = Run("aider", {}, [], {})
    for row in data["results"]:
        run.results[row["id"]], run.notes[row["id"]] = row["result"], row["error"] or ""
        run.seconds.append(row["seconds"])
    return run, data["version"]


def tally(corpus: Corpus, run: Run) -> dict[str, Counter[Outcome]]:
    """Outcome counts per category, plus `positive`, `negative` and `all` rows."""
    rows: dict[str, Counter[Outcome]] = {c: Counter() for c in (*CATEGORIES, "positive", "negative", "all")}
    for case in corpus.cases:
        outcome = classify(corpus, case, run.results[case.id])
        group = "negative" if case.category in NEGATIVE else "positive"
        for row in (case.category, group, "all"):
            rows[row][outcome] += 1
    return rows


def pct(counts: Counter[Outcome], outcome: Outcome) -> str:
    total = sum(counts.values())
    return f"{100 * counts[outcome] / total:8.1f}" if total else "       -"


def table(corpus: Corpus, runs: list[Run]) -> str:
    """One row per category, then positive / negative / all; each matcher's outcome shares in %."""
    tallies = [tally(corpus, run) for run in runs]
    labels = "".join(f"{label:>8}" for label in ("ok", "wrong", "w.place", "refused"))
    lines = [
        f"{'':<21}" + "   ".join(f"{run.name + ' (%)':^32}" for run in runs),
        f"{'category':<17}{'n':>4}" + "   ".join(labels for _run in runs),
    ]
    lines.append("-" * len(lines[1]))
    for row in tallies[0]:
        n = sum(tallies[0][row].values())
        cells = ["".join(pct(t[row], o) for o in OUTCOMES) for t in tallies]
        lines.append(f"{row:<17}{n:>4}" + "   ".join(cells))
        if row == CATEGORIES[-1]:
            lines.append("-" * len(lines[1]))
    return "\n".join(lines)


def timing(runs: list[Run]) -> str:
    medians = {run.name: statistics.median(run.seconds) for run in runs}
    text = "  ".join(f"{name} {ms * 1000:.3f} ms" for name, ms in medians.items())
    names = list(medians)
    if len(names) == 2 and medians[names[1]] > 0:
        text += f"  (qcode / aider = {medians[names[0]] / medians[names[1]]:.1f}x)"
    p95 = statistics.quantiles(runs[0].seconds, n=20)[-1]
    return f"per-edit median: {text}; qcode p95 {p95 * 1000:.1f} ms, max {max(runs[0].seconds) * 1000:.0f} ms"


def failures(corpus: Corpus, run: Run, show: int) -> str:
    """qcode's non-correct cases, one line each; the first `show` with old/new and a diff."""
    out = []
    for case in corpus.cases:
        outcome = classify(corpus, case, run.results[case.id])
        if outcome == "correct":
            continue
        out.append(f"  {case.id:<22} {outcome:<11} {case.path}:{case.start + 1}  {run.notes[case.id][:90]}")
        if show > 0:
            show -= 1
            out.append(_detail(corpus, case, run.results[case.id]))
    return "\n".join(out) if out else "  none"


def _detail(corpus: Corpus, case: Case, result: str | None) -> str:
    want = corpus.expected(case) or corpus.content(case)
    got = result if result is not None else corpus.content(case)
    diff = difflib.unified_diff(want.split("\n"), got.split("\n"), "expected", "got", n=1, lineterm="")
    return (
        f"    --- old_text\n{_indent(case.old_text)}\n    --- new_text\n{_indent(case.new_text)}\n"
        f"    --- expected vs got\n{_indent(chr(10).join(list(diff)[:30]))}"
    )


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.split("\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=660)
    parser.add_argument("--aider-python", default=AIDER_PYTHON)
    parser.add_argument("--show", type=int, default=5, help="qcode failures to print in full")
    args = parser.parse_args()
    corpus = generate(args.seed, args.cases)
    qcode = run_qcode(corpus)
    aider, aider_version = run_aider(corpus, args.aider_python)
    versions = ", ".join(f"{k} {v}" for k, v in corpus.versions.items())
    print(f"corpus: seed {corpus.seed}, {len(corpus.cases)} cases, {len(corpus.files)} files ({versions})")
    print(f"aider-chat {aider_version} (replace_most_similar_chunk)\n")
    print(table(corpus, [qcode, aider]))
    print(timing([qcode, aider]))
    everything = tally(corpus, qcode)["all"]
    aider_all = tally(corpus, aider)["all"]
    total = sum(everything.values())
    print(
        f"\ntargets: correct {100 * everything['correct'] / total:.1f} % (>= 98), "
        f"wrong place {100 * everything['wrong_place'] / total:.1f} % (= 0), "
        f"ahead of aider: {everything['correct'] > aider_all['correct']}"
    )
    print(f"\nqcode failures:\n{failures(corpus, qcode, args.show)}")


if __name__ == "__main__":
    main()
