"""The warm engine, side by side with the in-process one (the tiny Qwen3 on CPU, real Docker).

1. From `qcode fix` start to the first model token: the in-process engine (`--no-daemon`, loads
   the model) vs the warm engine (already loaded by `qcode engine start`). Target: >= 10x.
   The first token's wall time comes from the trajectory's first `turn` record
   (its time stamp - duration + time to first token).
2. Four sessions on one warm engine, at once vs one after another: wall time and the ratio
   (vLLM batches the concurrent requests).

    python -m qcode.evals.bench_warm_engine [--turns 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "QCODE_GPU_MEMORY_UTILIZATION": "0.3",
    "QCODE_MAX_MODEL_LEN": "16384",
    "QCODE_THINKING_BUDGET": "32",
    "QCODE_TOOL_CHOICE": "required",
    "QCODE_MAX_ARGUMENT_CHARS": "40",
    "QCODE_MAX_TURN_TOKENS": "300",
    "QCODE_ALLOWED_TOOLS": "read_file,list_files,search,git_diff,update_plan",
    "QCODE_SEED": "3",
}
SESSIONS = 4


def _repo(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "cart.py").write_text("def total(items):\n    return sum(items) + 1\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *args], cwd=folder, check=True)
    return folder


def first_token_seconds(repo: Path, model: str, *extra: str) -> float:
    """Seconds from launching `qcode fix` to its first model token."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "qcode", "fix", "total is off by one", "--repo", str(repo),
         "--engine", "vllm", "--model", model, "--max-steps", "1", "--json", *extra],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=1200,
    )  # fmt: skip
    if not done.stdout.strip():
        raise SystemExit(f"qcode fix failed:\n{done.stderr[-3000:]}")
    trajectory = Path(json.loads(done.stdout.strip().splitlines()[-1])["trajectory"])
    turn = next(
        json.loads(line) for line in trajectory.open() if '"type": "turn"' in line or '"type":"turn"' in line
    )
    first = turn["ts"] - turn["duration"] + (turn["time_to_first_token"] or 0.0)
    return float(first - started)


def sessions_wall(model: str, turns: int, together: bool) -> float:
    """Wall seconds for SESSIONS sessions of `turns` turns each, at once or one after another."""
    from qcode.agent.engines.warm import WarmEngine
    from qcode.tools.builtin import default_registry

    from qcode.config import load_settings

    settings = load_settings({"model": model}).settings
    tools = default_registry().schemas()

    def session(index: int) -> None:
        engine = WarmEngine(settings)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"You are qcode, session {index} ({together})."},
            {"role": "user", "content": "total([1, 2]) returns 4; fix cart.py."},
        ]
        for _ in range(turns):
            from qcode.agent.contracts import assistant_message, tool_message

            turn = engine.complete(messages, tools)
            messages.append(assistant_message(turn))
            messages += [tool_message(c.id, c.name, "ok") for c in turn.tool_calls]
        engine.close()

    started = time.monotonic()
    if together:
        threads = [threading.Thread(target=session, args=(i,)) for i in range(SESSIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for index in range(SESSIONS):
            session(index)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3, help="turns per session in part 2")
    args = parser.parse_args()
    from qcode.evals.tiny_model import cached_tiny_qwen3

    model = str(cached_tiny_qwen3())
    scratch = Path(tempfile.mkdtemp(prefix="qwb-"))
    os.environ.update(ENV)
    os.environ["XDG_RUNTIME_DIR"] = str(scratch)
    os.environ["QCODE_STATE_DIR"] = str(scratch / "state")
    try:
        repo = _repo(scratch / "repo")
        cold = first_token_seconds(repo, model, "--no-daemon")
        subprocess.run(
            [sys.executable, "-m", "qcode", "engine", "start", "--model", model], check=True, timeout=1200
        )
        warm = first_token_seconds(repo, model)
        sequential = sessions_wall(model, args.turns, together=False)
        concurrent = sessions_wall(model, args.turns, together=True)
    finally:
        subprocess.run([sys.executable, "-m", "qcode", "engine", "stop"], timeout=300, check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    table = Table("measure", "in-process / one after another", "warm / at once", "ratio",
                  title="warm engine (tiny Qwen3, CPU)")  # fmt: skip
    table.add_row("qcode fix start → first token (s)", f"{cold:.1f}", f"{warm:.1f}", f"{cold / warm:.1f}x")
    table.add_row(
        f"{SESSIONS} sessions × {args.turns} turns, wall (s)",
        f"{sequential:.1f}",
        f"{concurrent:.1f}",
        f"{sequential / concurrent:.2f}x",
    )
    Console().print(table)
    print(f"target: first token >= 10x sooner warm: {'met' if cold / warm >= 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
