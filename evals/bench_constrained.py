"""What constrained tool calls cost: decode tokens/s with and without the grammar, side by side.

Same engine, same prompt (system prompt, the nine tools, a task), thinking off so only the
answer is measured. Modes: `free` (no constraint), `auto` (the default: grammar active, text
free, calls well-formed), `required` (every answer is one call), `required+cap` (and string
arguments capped at 40 characters, the untrained-model guard). The tiny random-weight model on
CPU makes the model itself nearly free, so the grammar's share is shown at its largest.

    VLLM_CPU_KVCACHE_SPACE=1 python -m qcode.evals.bench_constrained [--turns 8]
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

MODES = ("free", "auto", "required", "required+cap")


def run(turns: int) -> dict[str, dict[str, float]]:
    from qcode.agent.engines.vllm_engine import EngineOptions, VllmEngine
    from qcode.evals.tiny_model import cached_tiny_qwen3
    from qcode.prompts import render
    from qcode.tools.builtin import default_registry

    from qcode.config import Settings

    tools = default_registry().schemas()
    settings = Settings(
        model=str(cached_tiny_qwen3()),
        max_model_len=16384,
        gpu_memory_utilization=float(os.environ.get("QCODE_GPU_MEMORY_UTILIZATION", "0.3")),
    )
    engine = VllmEngine(settings, EngineOptions(thinking=False, max_turn_tokens=256))
    results: dict[str, dict[str, float]] = {}
    try:
        for index, mode in enumerate(MODES * 2):  # the first round warms up (grammar compile, caches)
            engine.options.constrained = mode != "free"
            engine.options.max_argument_chars = 40 if mode == "required+cap" else None
            totals = {"tokens": 0.0, "decode_s": 0.0, "ttft": 0.0, "turns": 0.0}
            for turn_index in range(turns):
                messages: list[dict[str, Any]] = [
                    {"role": "system", "content": render("system")},
                    {"role": "user", "content": f"Task {turn_index}: total() is off by one; fix it."},
                ]
                choice: Literal["auto", "required"] = "required" if mode.startswith("required") else "auto"
                turn = engine.complete(messages, tools, tool_choice=choice)
                totals["tokens"] += turn.usage.completion_tokens
                totals["decode_s"] += turn.duration - (turn.time_to_first_token or 0.0)
                totals["ttft"] += turn.time_to_first_token or 0.0
                totals["turns"] += 1
            if index >= len(MODES):
                results[mode] = totals
    finally:
        engine.close()
    return results


def report(results: dict[str, dict[str, float]]) -> None:
    base = results["free"]["tokens"] / results["free"]["decode_s"]
    table = Table(
        "mode",
        "turns",
        "tokens",
        "decode s",
        "tokens/s",
        "vs free",
        "mean ttft s",
        title="constrained decoding overhead (tiny Qwen3, vLLM CPU)",
    )
    for mode, row in results.items():
        rate = row["tokens"] / row["decode_s"]
        table.add_row(
            mode,
            f"{row['turns']:.0f}",
            f"{row['tokens']:.0f}",
            f"{row['decode_s']:.1f}",
            f"{rate:.1f}",
            f"{rate / base:.2f}×",
            f"{row['ttft'] / row['turns']:.3f}",
        )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=8)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    report(run(parser.parse_args().turns))


if __name__ == "__main__":
    main()
