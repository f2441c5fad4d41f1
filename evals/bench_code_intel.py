"""Code intelligence, side by side: diagnostics over the held-in edit corpus, and `find_symbol`
against `search` for finding a definition.

    python -m qcode.evals.bench_code_intel [--seed 0] [--cases 330] [--repo PATH] [--queries 40]

Diagnostics: each positive corpus edit is applied as intended (a clean edit) and once more with
a syntax break mixed into its new lines (an unclosed bracket, a lost colon or quote); Python's
own `ast.parse` is the judge of which files really parse. Reported: the share of breaking edits
the syntax tier reports (target 100 %), of clean edits it wrongly reports (target 0 %), and the
median time it adds per edit on the corpus file nearest 2,000 lines (target ≤ 10 ms), beside
`ast.parse` on the same text.

find_symbol vs search: for `Class.method` and bare names the tree defines, the tokens of the
observation the model reads until the defining file and line are in front of it, with the
real tools: `find_symbol(name)` against `search("def NAME\\b|class NAME\\b")`. Django 5.1.4 is
not in the offline evals, so the default tree is the largest repository the offline suite has
(evals/suites/repos); `--repo` takes any other tree (e.g. an unpacked Django). No pass/fail.
"""

from __future__ import annotations

import argparse
import ast
import random
import statistics
import tempfile
import time
from pathlib import Path

from qcode.agent.contracts import ToolCall
from qcode.evals.edit_corpus import NEGATIVE, Case, Corpus, generate
from qcode.evals.repos import extract_archive
from qcode.tools.builtin import default_registry
from qcode.tools.checks import ChangeChecker
from qcode.tools.diagnostics import introduced, problem_keys, syntax_check
from qcode.tools.registry import ToolContext
from qcode.tools.repomap import estimate_tokens

SUITE_REPOS = Path(__file__).parent / "suites" / "repos"


# ---------------------------------------------------------------- diagnostics


def breaking_variant(content: str, case: Case, rng: random.Random) -> str | None:
    """The intended edit with a syntax break in its new lines, or None when none can be made."""
    lines = content.split("\n")
    block = list(range(case.start, case.start + len(case.replacement)))
    rng.shuffle(block)
    for index in block:
        line = lines[index]
        for broken in _breaks(line, rng):
            candidate = "\n".join(lines[:index] + [broken] + lines[index + 1 :])
            if not _parses(candidate):
                return candidate
    return None


def _breaks(line: str, rng: random.Random) -> list[str]:
    options = []
    if ")" in line:
        cut = line.rindex(")")
        options.append(line[:cut] + line[cut + 1 :])  # an unclosed parenthesis
    if line.rstrip().endswith(":"):
        options.append(line.rstrip()[:-1])  # a lost colon
    if line.strip():
        options.append(line + " (")  # a stray opener
        options.append(line + ' "')  # an unterminated string
    rng.shuffle(options)
    return options


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def _reported(before: str, after: str, path: str) -> bool:
    """What the tool does: parse before, re-parse after incrementally, report what is new."""
    first = syntax_check(before, path)
    old = problem_keys(first.problems or [], before.split("\n"))
    second = syntax_check(after, path, first.parsed)
    return bool(introduced(old, second.problems or [], after.split("\n")) or second.emptied)


def diagnostics_bench(corpus: Corpus) -> dict[str, float | str]:
    rng = random.Random(corpus.seed)
    clean_total = clean_flagged = broken_total = broken_reported = natural_total = natural_reported = 0
    missed: list[str] = []
    for case in corpus.cases:
        if case.category in NEGATIVE:
            continue
        before = corpus.content(case)
        after = corpus.expected(case)
        if after is None or not _parses(before):
            continue
        reported = _reported(before, after, case.path)
        if not _parses(after):  # the corpus's own change broke the file (an emptied block)
            natural_total += 1
            natural_reported += reported
            continue
        clean_total += 1
        clean_flagged += reported
        broken = breaking_variant(after, case, rng)
        if broken is not None:
            broken_total += 1
            caught = _reported(before, broken, case.path)
            broken_reported += caught
            if not caught:
                missed.append(case.id)
    timing = _timing(corpus)
    return {
        "clean_edits": clean_total,
        "clean_wrongly_reported_pct": 100 * clean_flagged / max(1, clean_total),
        "breaking_edits": broken_total,
        "breaking_reported_pct": 100 * broken_reported / max(1, broken_total),
        "missed": ", ".join(missed[:5]) or "none",
        "corpus_changes_that_break_python": natural_total,
        "of_those_reported_pct": 100 * natural_reported / max(1, natural_total),
        **timing,
    }


def _timing(corpus: Corpus, rounds: int = 60) -> dict[str, float | str]:
    """Added time per edit in the tool's real path (safe read, digest, parse, match) on the file
    nearest 2,000 lines, beside `ast.parse` of the same text."""
    path, text = min(corpus.files.items(), key=lambda item: abs(item[1].count("\n") - 2000))
    lines = text.split("\n")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        target = root / "m.py"
        target.write_text(text)
        checker = ChangeChecker()
        ours, cold, theirs = [], [], []
        for n in range(rounds):
            row = 50 + (n * 31) % (len(lines) - 100)
            lines[row] += f"  # edit {n}"  # edits pile up, as in a session: each changes one place
            changed = "\n".join(lines)
            began = time.perf_counter()
            ChangeChecker().baseline(root, None, "m.py")  # the first edit of a file parses it before
            cold.append(time.perf_counter() - began)
            began = time.perf_counter()
            before = checker.baseline(root, None, "m.py")  # later edits: remembered from the last check
            read = time.perf_counter() - began
            target.write_text(changed)  # the edit itself is not the checker's time
            began = time.perf_counter()
            checker.after(root, None, "m.py", before)
            ours.append(read + time.perf_counter() - began)
            began = time.perf_counter()
            ast.parse(changed)
            theirs.append(time.perf_counter() - began)
    ms = 1000
    return {
        "timing_file": f"{path} ({len(lines)} lines)",
        "syntax_ms_median": statistics.median(ours) * ms,
        "syntax_ms_first_edit_extra": statistics.median(cold) * ms,
        "ast_parse_ms_median": statistics.median(theirs) * ms,
        "syntax_to_ast_parse_ratio": statistics.median(ours) / statistics.median(theirs),
    }


# ---------------------------------------------------------------- find_symbol vs search


def largest_offline_repo(dest: Path) -> Path:
    """The offline suite's repository with the most Python source, unpacked under `dest`."""
    best, best_size = None, -1
    for archive in sorted(SUITE_REPOS.glob("*.tar.gz")):
        tree = dest / archive.name.removesuffix(".tar.gz")
        extract_archive(archive, tree)
        size = sum(p.stat().st_size for p in tree.rglob("*.py"))
        if size > best_size:
            best, best_size = tree, size
    assert best is not None, f"no repositories in {SUITE_REPOS}"
    return best


def queries(root: Path, count: int, seed: int = 7) -> list[tuple[str, str, int]]:
    """(name, defining path, 1-based line): half `Class.method`, half bare top-level names."""
    from qcode.tools.repomap.build import load_tags

    tags, _ = load_tags(root)
    methods, bare = [], []
    for path, file_tags in sorted(tags.items()):
        for d in file_tags.defs:
            if d.name.startswith("__"):
                continue
            if d.scope:
                methods.append((f"{d.scope}.{d.name}", path, d.line + 1))
            else:
                bare.append((d.name, path, d.line + 1))
    rng = random.Random(seed)
    picks = rng.sample(methods, min(len(methods), count // 2))
    return picks + rng.sample(bare, min(len(bare), count - len(picks)))


def symbol_bench(root: Path, count: int) -> dict[str, float | str]:
    registry = default_registry()
    ctx = ToolContext(workspace=root, sandbox=None, diff=lambda _p: "")  # type: ignore[arg-type]

    def tokens(tool: str, arguments: dict[str, object], path: str, line: int) -> tuple[int, bool]:
        obs = registry.dispatch(ToolCall(id="q", name=tool, arguments=arguments), ctx)
        return estimate_tokens(obs.text), f"{path}:{line}:" in obs.text

    ours, theirs, first, found_by_search, found_by_symbol = [], [], 0, 0, 0
    asked = queries(root, count)
    for name, path, line in asked:
        bare = name.rsplit(".", 1)[-1]
        spent, hit = tokens("find_symbol", {"name": name}, path, line)
        found_by_symbol += hit
        obs = registry.dispatch(ToolCall(id="q", name="find_symbol", arguments={"name": name}), ctx)
        results = obs.data.get("results") or [{}]
        first += (results[0].get("path"), results[0].get("line")) == (path, line)
        ours.append(spent)
        spent, hit = tokens("search", {"pattern": rf"(def|class) {bare}\b"}, path, line)
        theirs.append(spent)
        found_by_search += hit
    return {
        "repo": str(root.name),
        "queries": len(asked),
        "find_symbol_first_result_right_pct": 100 * first / max(1, len(asked)),
        "find_symbol_shows_definition_pct": 100 * found_by_symbol / max(1, len(asked)),
        "search_shows_definition_pct": 100 * found_by_search / max(1, len(asked)),
        "find_symbol_tokens_median": statistics.median(ours),
        "search_tokens_median": statistics.median(theirs),
        "search_to_find_symbol_ratio": sum(theirs) / max(1, sum(ours)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=330)
    parser.add_argument("--repo", type=Path, default=None)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    print("## diagnostics over the edit corpus (syntax tier)")
    for key, value in diagnostics_bench(generate(args.seed, args.cases)).items():
        print(f"{key:>36}: {value:.2f}" if isinstance(value, float) else f"{key:>36}: {value}")
    with tempfile.TemporaryDirectory() as scratch:
        root = args.repo or largest_offline_repo(Path(scratch))
        print(f"\n## find_symbol vs search on {root}")
        for key, value in symbol_bench(root, args.queries).items():
            print(f"{key:>36}: {value:.2f}" if isinstance(value, float) else f"{key:>36}: {value}")


if __name__ == "__main__":
    main()
