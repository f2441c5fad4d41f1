"""Repo map against aider's `RepoMap` on the Django 5.1.4 sdist: cold build, rebuild after one
edited file, peak memory, and how often the file defining a named symbol ranks in the top 5.

    python -m qcode.evals.bench_repomap [--workdir /tmp/bench-repomap] \
        [--aider-python /tmp/aider-venv/bin/python] [--queries 30]

aider goes in its own venv (it pins many packages): `python -m venv /tmp/aider-venv &&
/tmp/aider-venv/bin/pip install aider-chat`. Each measurement runs in a fresh process; both
tools get the same tree (two identical copies: aider writes its cache inside the tree) and the
same token estimate. Prints a table; no pass/fail. Targets: cold ≥ 3× faster than aider,
one-file rebuild ≥ 10×, peak RSS no higher, top-5 hit rate ≥ 90 %.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

DJANGO = "django==5.1.4"
TOUCHED = "django/db/models/sql/compiler.py"

OURS = r"""
import json, resource, sys, time
from pathlib import Path
from qcode.tools.repomap import build_repo_map
root, cache, tokens, focuses = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
out = {"seconds": [], "top": []}
for focus in focuses:
    began = time.perf_counter()
    repo_map = build_repo_map(root, focus=focus, tokens=tokens, cache_dir=cache)
    out["seconds"].append(time.perf_counter() - began)
    out["top"].append(repo_map.files[:5])
out["stats"] = repo_map.stats
print(json.dumps(out))
"""

AIDER = r"""
import json, os, re, sys, time
from aider.repomap import RepoMap
root, tokens, focuses = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
class Model:  # the same estimate qcode uses, and no network
    def token_count(self, text): return len(text) / 3.5
class IO:
    def tool_output(self, *a, **k): pass
    tool_warning = tool_error = tool_output
    def read_text(self, fname):
        with open(fname, encoding="utf-8", errors="replace") as handle: return handle.read()
os.chdir(root)
files = [os.path.join(root, f) for f in
         __import__("subprocess").run(["git", "ls-files"], capture_output=True, text=True).stdout.split()]
out = {"seconds": [], "top": []}
for focus in focuses:
    idents = set(re.split(r"\W+", focus)) - {""}  # as aider's coder extracts mentioned identifiers
    rm = RepoMap(map_tokens=tokens, root=root, main_model=Model(), io=IO())
    began = time.perf_counter()
    if len(focuses) == 1:
        rm.get_repo_map([], files, mentioned_idents=idents)
    ranked = rm.get_ranked_tags([], files, set(), idents)
    out["seconds"].append(time.perf_counter() - began)
    top = []
    for tag in ranked:
        if tag[0] not in top: top.append(tag[0])
        if len(top) == 5: break
    out["top"].append(top)
print(json.dumps(out))
"""


def run_measured(argv: list[str], cwd: Path) -> tuple[dict[str, Any], float, float]:
    """(the child's JSON, wall seconds, peak RSS in MB of the child and all its descendants).
    `cwd` is a folder of ours: `python -c` puts it first on sys.path."""
    began = time.perf_counter()
    cpu_before = _children_cpu()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _tree_rss(proc.pid))

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    done.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    child = json.loads(out.decode().strip().splitlines()[-1])
    child["cpu"] = _children_cpu() - cpu_before  # CPU seconds of the child and its workers
    return child, time.perf_counter() - began, peak[0] / 1024


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss(pid: int) -> int:
    """KiB resident in `pid` and its descendants, read from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue
    return total


def prepare(workdir: Path) -> tuple[Path, Path]:
    """Two identical git-initialised copies of the Django sdist: one per tool."""
    workdir.mkdir(parents=True, exist_ok=True)
    tarballs = list(workdir.glob("[Dd]jango-*.tar.gz"))
    if not tarballs:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                DJANGO,
                "-d",
                str(workdir),
            ],
            check=True,
            capture_output=True,
        )
        tarballs = list(workdir.glob("[Dd]jango-*.tar.gz"))
    trees = []
    for name in ("qcode", "aider"):
        tree = workdir / name
        shutil.rmtree(tree, ignore_errors=True)
        with tarfile.open(tarballs[0]) as archive:
            archive.extractall(tree, filter="data")
        inner = next(tree.iterdir())
        git = [
            "git",
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "-c",
            "core.hooksPath=/dev/null",
        ]
        subprocess.run(git + ["init", "-q"], cwd=inner, check=True)
        subprocess.run(git + ["add", "-A"], cwd=inner, check=True)
        subprocess.run(git + ["commit", "-qm", "django sdist"], cwd=inner, check=True)
        trees.append(inner)
    return trees[0], trees[1]


def focus_set(root: Path, cache: Path, count: int, seed: int = 5) -> list[tuple[str, list[str]]]:
    """Focus texts naming a symbol from the tree's own definitions, with the files defining it.
    Half `Class.method` (one defining file), half bare names defined in at most two files."""
    from qcode.tools.repomap.cache import TagCache

    with TagCache(cache) as store:
        tags = store.load(os.path.realpath(root))
    by_name: dict[str, set[str]] = {}
    by_pair: dict[tuple[str, str], set[str]] = {}
    for path, file_tags in tags.items():
        for d in file_tags.defs:
            by_name.setdefault(d.name, set()).add(path)
            if d.scope:
                by_pair.setdefault((d.scope, d.name), set()).add(path)
    rng = random.Random(seed)
    pairs = sorted(
        p
        for p, files in by_pair.items()
        if len(files) == 1
        and not p[1].startswith("_")
        and len(p[1]) >= 5
        and not p[0].startswith("Test")
        and not p[1].startswith("test")
    )
    names = sorted(
        n
        for n, files in by_name.items()
        if len(files) <= 2 and len(n) >= 6 and not n.startswith("_") and not n.startswith(("test", "Test"))
    )
    chosen = [
        (f"Fix a bug in {s}.{n}: it fails on empty input.", sorted(by_pair[(s, n)]))
        for s, n in rng.sample(pairs, count // 2)
    ]
    chosen += [
        (f"Fix a bug in {n}: it fails on empty input.", sorted(by_name[n]))
        for n in rng.sample(names, count - count // 2)
    ]
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-repomap"))
    parser.add_argument("--aider-python", default="/tmp/aider-venv/bin/python")
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    ours_tree, aider_tree = prepare(args.workdir)
    cache = args.workdir / "qcode-cache"
    shutil.rmtree(cache, ignore_errors=True)
    focus = json.dumps(["QuerySet.select_related"])
    ours = [sys.executable, "-c", OURS, str(ours_tree), str(cache), str(args.tokens)]
    aider = [args.aider_python, "-c", AIDER, str(aider_tree), str(args.tokens)]
    results: dict[str, dict[str, float]] = {"qcode": {}, "aider": {}}
    for label in ("cold", "warm", "one-file"):
        if label == "one-file":
            for tree in (ours_tree, aider_tree):
                with open(tree / TOUCHED, "a", encoding="utf-8") as handle:
                    handle.write("\n# touched by bench_repomap\n")
        for tool, base in (("qcode", ours), ("aider", aider)):
            child, wall, rss = run_measured(base + [focus], args.workdir)
            results[tool][f"{label}_s"] = child["seconds"][0]
            results[tool][f"{label}_rss"] = rss
            results[tool][f"{label}_cpu"] = child["cpu"]
            print(
                f"  {tool:5} {label:8} {child['seconds'][0]:7.2f}s in call, {wall:6.2f}s wall, "
                f"{child['cpu']:6.2f}s CPU, {rss:6.0f} MB",
                file=sys.stderr,
                flush=True,
            )
    queries = focus_set(ours_tree, cache, args.queries)
    texts = json.dumps([text for text, _ in queries])
    for tool, base in (("qcode", ours), ("aider", aider)):
        argv = base[:-1] + ["8192", texts] if tool == "qcode" else base + [texts]  # ≥ 5 files in the map
        child, _, _ = run_measured(argv, args.workdir)
        hits = sum(any(f in top for f in want) for (_, want), top in zip(queries, child["top"], strict=True))
        results[tool]["top5"] = hits / len(queries)
        results[tool]["query_s"] = sum(child["seconds"]) / len(queries)
    report(results, len(queries))


def report(results: dict[str, dict[str, float]], queries: int) -> None:
    ours, theirs = results["qcode"], results["aider"]
    rows = [
        ("cold build (s)", "cold_s", True),
        ("rebuild, nothing changed (s)", "warm_s", True),
        ("rebuild after one edit (s)", "one-file_s", True),
        ("CPU, cold, workers included (s)", "cold_cpu", True),
        ("CPU, one-file, workers included (s)", "one-file_cpu", True),
        ("peak RSS, cold (MB)", "cold_rss", True),
        ("peak RSS, one-file (MB)", "one-file_rss", True),
        ("ranking per query (s)", "query_s", True),
        (f"defining file in top 5 ({queries} queries)", "top5", False),
    ]
    print(f"\n{'measure':<38}{'qcode':>10}{'aider':>10}{'aider/qcode':>13}")
    for name, key, lower_is_better in rows:
        a, b = ours[key], theirs[key]
        ratio = (b / a if lower_is_better else a / b) if a and b else float("nan")
        fmt = "{:>10.0%}" if key == "top5" else "{:>10.2f}"
        print(f"{name:<38}" + fmt.format(a) + fmt.format(b) + f"{ratio:>12.1f}×")


if __name__ == "__main__":
    main()
