"""Prefix-cache reuse over a 20-step agent trajectory, before and after rendering turns as generated.

vLLM (CPU, the tiny Qwen3 with the faithful test template) serves a scripted 20-step session whose
model turns carry the spacing Qwen3.6 may generate and its template would write differently: one
newline before a call, a blank line between calls, reasoning with leading whitespace or a trailing
blank line, compact JSON, `True`. Each step sends the prompt qcode renders (`render_prompt`) plus
the scripted turn as if generated (`max_tokens=1`), so vLLM caches both as it would after real
generation; the next step's prompt then hits the cache as far as it extends this one.

- before: past turns re-rendered from their parsed calls, reasoning continued as generated;
- after: past turns rendered as generated, reasoning continued in its rendered (trimmed) form.

Per step: prompt tokens, tokens served from vLLM's prefix cache, their share. Target: >= 95 % over
steps 2-20.

    VLLM_CPU_KVCACHE_SPACE=1 python -m qcode.evals.bench_prefix_cache [--steps 20]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

TARGET = 0.95
MODES = ("before", "after")


def observation(step: int, name: str) -> str:
    """About what read_file or pytest print: a header line and a dozen short lines."""
    lines = [f"{i:>6}\tdef helper_{step}_{i}(value):  # {name}" for i in range(1, 13)]
    return f"src/mod_{step}.py, lines 1-12:\n" + "\n".join(lines)


def scripted_turn(step: int) -> tuple[str, str]:
    """(reasoning as generated, answer as generated) with one of issue 12's spacing variants."""
    from qcode.agent.qwen_xml import render_tool_call

    read = render_tool_call("read_file", {"path": f"src/mod_{step}.py", "start_line": 1, "end_line": 12})
    plan = render_tool_call("update_plan", {"plan": [{"step": f"step {step}", "status": "in_progress"}]})
    edit = render_tool_call(
        "edit_file", {"path": "a.py", "old_text": "x", "new_text": "y", "replace_all": True}
    )
    variants = [
        (f"\n  Step {step}: reading.", read),  # reasoning starts with whitespace
        (
            f"Step {step}: the plan.\n\n",
            plan.replace('[{"step": ', '[{"step":').replace('", "status": ', '","status":'),
        ),
        (f"Step {step}.", f"Reading the module.\n{read}"),  # one newline before the call
        (f"Step {step}, two reads.", f"{read}\n\n{read}"),  # a blank line between calls
        (f"Step {step}: flag.", edit.replace("\ntrue\n", "\nTrue\n")),  # Qwen3.5's str(True)
        (f"Step {step}: as the template writes it.", read),
    ]
    return variants[step % len(variants)]


def generated_text(reasoning: str, answer: str, mode: str) -> str:
    """The turn as the engine leaves it in the KV cache (the prompt already ends in `<think>\\n`)."""
    if mode == "after":  # the engine continues from the trimmed reasoning, as the template renders it
        return f"{reasoning.strip()}\n</think>\n\n{answer}"
    close = "</think>\n\n" if reasoning.endswith("\n") else "\n</think>\n\n"
    return reasoning + close + answer


def run(steps: int) -> dict[str, list[dict[str, Any]]]:
    from qcode.agent.engines.vllm_setup import plan_engine, require_vllm
    from qcode.evals.tiny_model import cached_tiny_qwen3
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    from qcode.config import Settings

    settings = Settings(
        model=str(cached_tiny_qwen3()),
        max_model_len=32768,
        gpu_memory_utilization=float(os.environ.get("QCODE_GPU_MEMORY_UTILIZATION", "0.3")),
    )
    kwargs = plan_engine(settings, require_vllm()).engine_kwargs
    kwargs.pop("speculative_config", None)
    llm = LLM(**kwargs)
    tokenizer = AutoTokenizer.from_pretrained(kwargs["model"])
    try:
        results = {}
        for mode in MODES:
            llm.reset_prefix_cache()
            results[mode] = _session(llm, tokenizer, SamplingParams(max_tokens=1), steps, mode)
        return results
    finally:
        del llm


def _session(llm: Any, tokenizer: Any, params: Any, steps: int, mode: str) -> list[dict[str, Any]]:
    from qcode.agent.contracts import Turn, assistant_message, tool_message
    from qcode.agent.engines import prompt
    from qcode.agent.qwen_xml import parse_turn
    from qcode.prompts import render
    from qcode.tools.builtin import default_registry

    tools = default_registry().schemas()
    messages: list[dict[str, Any]] = [{"role": "system", "content": render("system")}, first_task()]
    rows: list[dict[str, Any]] = []
    previous: list[int] = []
    for step in range(1, steps + 1):
        ids = prompt.render_prompt(tokenizer, messages, tools)
        reasoning, answer = scripted_turn(step)
        raw = generated_text(reasoning, answer, mode)
        request = ids + tokenizer.encode(raw, add_special_tokens=False)
        output = llm.generate({"prompt_token_ids": request}, params, use_tqdm=False)[0]
        cached = min(output.num_cached_tokens or 0, len(ids))
        rows.append({"step": step, "prompt": len(ids), "cached": cached, "reusable": _common(ids, previous)})
        previous = request
        parsed = parse_turn(raw, tools)
        turn = Turn(text=parsed.text, reasoning=parsed.reasoning, tool_calls=parsed.tool_calls, raw=raw)
        message = assistant_message(turn)
        if mode == "before":
            message.pop("raw")  # re-rendered from the parsed calls, as qcode did before
        messages.append(message)
        messages += [tool_message(c.id, c.name, observation(step, c.name)) for c in turn.tool_calls]
    return rows


def first_task() -> dict[str, str]:
    """The task message as a real session sends it: the issue, the tree and the repo map (of qcode)."""
    from qcode.agent.overview import repo_overview
    from qcode.prompts import render
    from qcode.tools.files import workspace_files

    root = Path(__file__).resolve().parents[1]
    task = "Settings.max_steps is ignored when the repo sets it; fix load_settings."
    overview = repo_overview(root, workspace_files(root), focus=task)
    content = render(
        "task",
        task=task,
        file_count=overview.file_count,
        overview=overview.text,
        repo_map=overview.repo_map,
        instructions=overview.instructions,
        instructions_file=overview.instructions_file,
    )
    return {"role": "user", "content": content}


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def share(rows: list[dict[str, Any]], key: str = "cached") -> float:
    later = rows[1:]
    return float(sum(r[key] for r in later) / max(1, sum(r["prompt"] for r in later)))


def report(results: dict[str, list[dict[str, Any]]]) -> None:
    table = Table("step", *(f"{m} {c}" for m in MODES for c in ("prompt", "cached", "share")))
    table.title = "prefix-cache reuse (tiny Qwen3, faithful template, vLLM CPU)"
    for index, _ in enumerate(results["before"]):
        cells = []
        for mode in MODES:
            row = results[mode][index]
            cells += [str(row["prompt"]), str(row["cached"]), f"{row['cached'] / row['prompt']:.1%}"]
        table.add_row(str(index + 1), *cells)
    console = Console()
    console.print(table)
    before, after = share(results["before"]), share(results["after"])
    verdict = "meets" if after >= TARGET else "MISSES"
    console.print(
        f"steps 2–{len(results['after'])}: before {before:.1%}, after {after:.1%} of prompt tokens "
        f"from cache; after {verdict} the {TARGET:.0%} target"
    )
    console.print(
        f"longest common prefix with the previous request (token level, no block rounding): before "
        f"{share(results['before'], 'reusable'):.1%}, after {share(results['after'], 'reusable'):.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    report(run(parser.parse_args().steps))


if __name__ == "__main__":
    main()
