"""Attempts, measured (issue 17). One run, two tables.

1. selection: the offline suite with 4 attempts per task, one gold and three decoys in a seeded
   order (`mix:gold=1,decoy=3`). Where the repository's tests tell the gold attempt apart from
   every decoy (their test outcomes differ), the selection must pick the gold one. The judge turn
   is not counted: scripted engines cannot judge.
2. wall: 4 attempts of one task on the tiny vLLM model (CPU), concurrent (threads sharing one
   engine) vs sequential; the engine is loaded once and warmed by one session first.

    python -m qcode.evals.bench_attempts [--tasks 8] [--workers 2] [--skip-wall]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SUITE = Path(__file__).parent / "suites" / "offline.jsonl"
ENGINE_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "QCODE_GPU_MEMORY_UTILIZATION": "0.3",
    "QCODE_MAX_MODEL_LEN": "16384",
    "QCODE_THINKING_BUDGET": "16",
    "QCODE_TOOL_CHOICE": "required",
    "QCODE_MAX_ARGUMENT_CHARS": "40",
    "QCODE_MAX_TURN_TOKENS": "400",
    "QCODE_ALLOWED_TOOLS": "read_file,list_files,search,update_plan",
    "QCODE_SEED": "3",
}


def selection(limit: int, workers: int, out: Path) -> dict[str, Any]:
    from qcode.evals.runner import EvalOptions, run_eval
    from qcode.evals.tasks import load_tasks

    from qcode.config import load_settings

    tasks = load_tasks(SUITE)[:limit]
    options = EvalOptions(engine="mix:gold=1,decoy=3", attempts=4, workers=workers, out=out)
    results = run_eval(tasks, load_settings({}).settings, options, log=lambda line: None)
    rows = []
    for result in results:
        gold = next((a for a in result.attempts if a["engine"] == "gold"), None)
        if gold is None:
            continue
        decoys = [a for a in result.attempts if a is not gold]
        told_apart = all(a["behaviour"] != gold["behaviour"] for a in decoys)
        rows.append(
            {
                "task": result.instance_id,
                "gold_at": gold["number"],
                "apart": told_apart,
                "picked_gold": gold["chosen"],
                "pass_at_1": result.pass_at_1,
                "best": result.best_of_n,
            }
        )
    apart = [r for r in rows if r["apart"]]
    return {
        "tasks": len(rows),
        "told_apart": len(apart),
        "gold_picked_when_apart": sum(r["picked_gold"] for r in apart),
        "gold_picked": sum(r["picked_gold"] for r in rows),
        "pass_at_1": sum(bool(r["pass_at_1"]) for r in rows),
        "best_of_4": sum(bool(r["best"]) for r in rows),
        "rows": rows,
    }


def _repo(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "cart.py").write_text("def total(items):\n    return sum(items) + 1\n")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    for args in (["init", "-q", "--initial-branch=main"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, env=env)
    return folder


def wall(steps: int, scratch: Path) -> dict[str, float]:
    from qcode.agent.engines import make_engine
    from qcode.evals.tiny_model import cached_tiny_qwen3

    from qcode.config import load_settings
    from qcode.runner import new_session

    os.environ.update(ENGINE_ENV)
    os.environ["QCODE_STATE_DIR"] = str(scratch / "state")
    settings = load_settings(
        {"engine": "vllm", "model": str(cached_tiny_qwen3()), "max_steps": steps}
    ).settings
    repo = _repo(scratch / "repo")
    engine = make_engine("vllm", settings)
    counter = iter(range(1000))

    def one() -> None:
        branch = f"qcode/bench-{next(counter)}"
        with new_session(settings, repo, engine=engine, branch=branch) as session:
            session.run("total([1, 2]) returns 4 instead of 3")

    try:
        one()  # warm: compiled graphs, the shared prefix in the cache
        began = time.monotonic()
        for _ in range(4):
            one()
        sequential = time.monotonic() - began
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: one(), range(4)))
        concurrent = time.monotonic() - began
    finally:
        engine.close()
    return {"sequential": sequential, "concurrent": concurrent, "speedup": sequential / concurrent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=32, help="Offline-suite tasks (the first N).")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="Model calls per attempt in the wall run.")
    parser.add_argument("--skip-wall", action="store_true")
    parser.add_argument("--skip-selection", action="store_true")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="qcode-bench-attempts-") as scratch:
        if not args.skip_selection:
            s = selection(args.tasks, args.workers, Path(scratch) / "eval")
            table = Table(
                "tasks",
                "told apart by tests",
                "gold picked (apart)",
                "gold picked (all)",
                "pass@1",
                "best-of-4",
                title="selection: 1 gold + 3 decoys per task",
            )
            table.add_row(
                str(s["tasks"]),
                str(s["told_apart"]),
                f"{s['gold_picked_when_apart']}/{s['told_apart']}",
                f"{s['gold_picked']}/{s['tasks']}",
                str(s["pass_at_1"]),
                str(s["best_of_4"]),
            )
            console.print(table)
            for row in s["rows"]:
                if row["apart"] and not row["picked_gold"]:
                    console.print(f"[red]gold not picked although told apart: {row['task']}[/]")
        if not args.skip_wall:
            w = wall(args.steps, Path(scratch) / "wall")
            table = Table(
                "4 sequential (s)", "4 concurrent (s)", "ratio", title=f"wall: tiny vLLM, {args.steps} steps"
            )
            table.add_row(f"{w['sequential']:.1f}", f"{w['concurrent']:.1f}", f"{w['speedup']:.2f}x")
            console.print(table)


if __name__ == "__main__":
    main()
