"""The eval report: `report.json` (per task and totals), `report.md` (tables) and PNG plots.

A run of the gold engine measures the harness, not a model; the report says so at the top.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qcode.evals.gold import GOLD_ENGINE_NAME
from qcode.evals.runner import EvalOptions, TaskResult

__all__ = ["plotted", "short_reason", "summarize", "write_report"]

GOLD_LABEL = (
    "HARNESS CHECK: the gold engine acts out each task's gold patch; this measures the harness "
    "(sandbox, parser, tools, grading), not a model."
)


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "max": 0.0}
    return {
        "mean": round(statistics.fmean(values), 2),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def summarize(results: list[TaskResult], total: int, options: EvalOptions) -> dict[str, Any]:
    """Totals over the finished tasks; `total` is the number of tasks in the file."""
    resolved = sum(r.resolved for r in results)
    return {
        "engine": options.engine,
        "label": GOLD_LABEL
        if options.engine == GOLD_ENGINE_NAME or options.engine.startswith("mix:gold")
        else f"model run ({options.engine})",
        "faults": options.faults,
        "tasks": total,
        "finished": len(results),
        "resolved": resolved,
        "resolve_rate": round(resolved / total, 4) if total else 0.0,
        "errors": sum(r.status == "error" for r in results),
        "steps": _spread([r.steps for r in results]),
        "wall_seconds": _spread([r.wall_seconds for r in results]),
        "tokens": {
            "prompt": sum(r.usage.prompt_tokens for r in results),
            "completion": sum(r.usage.completion_tokens for r in results),
            "cached": sum(r.usage.cached_tokens for r in results),
        },
        "tool_errors": sum(r.tool_errors for r in results),
        "recoveries": sum(r.recoveries for r in results),
        "faults_injected": sum(len(r.faults_injected) for r in results),
        **_attempts_summary(results),
    }


def _attempts_summary(results: list[TaskResult]) -> dict[str, Any]:
    """pass@1 beside best-of-N, and the selection's accuracy: of the tasks where some attempt
    resolved, how often the chosen one did."""
    runs = [r for r in results if r.attempts]
    if not runs:
        return {}
    reachable = [r for r in runs if r.best_of_n]
    right = sum(r.resolved for r in reachable)
    return {
        "attempts": {
            "count": max(len(r.attempts) for r in runs),
            "tasks": len(runs),
            "pass_at_1": sum(bool(r.pass_at_1) for r in runs),
            "best_of_n": len(reachable),
            "chosen_resolved": sum(r.resolved for r in runs),
            "selection_accuracy": round(right / len(reachable), 4) if reachable else 0.0,
        }
    }


def write_report(out: Path, results: list[TaskResult], total: int, options: EvalOptions) -> dict[str, Any]:
    """Write report.json, report.md and the plots; return the summary."""
    summary = summarize(results, total, options)
    payload = {**summary, "per_task": [r.model_dump(mode="json") for r in results]}
    (out / "report.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    plots = _plots(out, results, total)
    (out / "report.md").write_text(_markdown(summary, results, plots), encoding="utf-8")
    return summary


def _plots(out: Path, results: list[TaskResult], total: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    made = []
    counts = {
        "resolved": sum(r.resolved for r in results),
        "unresolved": sum(r.status == "unresolved" for r in results),
        "error": sum(r.status == "error" for r in results),
        "not run": total - len(results),
    }
    ran = plotted(results)
    figures: dict[str, tuple[str, str, Callable[[Any], object]]] = {
        "resolve_rate.png": (
            "Outcome per task",
            "outcome",
            lambda ax: ax.bar(
                list(counts), list(counts.values()), color=["#2a9d8f", "#e9c46a", "#e76f51", "#999"]
            ),
        ),
        "steps.png": (
            "Model calls per task (errored tasks left out)",
            "model calls",
            lambda ax: ax.hist([r.steps for r in ran], bins=15),
        ),
        "tokens.png": (
            "Tokens per task (prompt + completion; errored tasks left out)",
            "tokens",
            lambda ax: ax.hist([r.usage.prompt_tokens + r.usage.completion_tokens for r in ran], bins=15),
        ),
    }
    for name, (title, xlabel, draw) in figures.items():
        figure, ax = plt.subplots(figsize=(6, 3.5))
        draw(ax)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("tasks")
        figure.tight_layout()
        figure.savefig(out / name, dpi=100)
        plt.close(figure)
        made.append(name)
    return made


def plotted(results: list[TaskResult]) -> list[TaskResult]:
    """The tasks the per-task plots count: an errored task's 0 steps are a harness failure, not a
    fast run."""
    return [r for r in results if r.status != "error"]


def short_reason(text: str, limit: int = 80) -> str:
    """A table cell: the first line of a reason, cut at a word, with no `|` to break the table."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "").replace("|", "/")
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0]
    return (cut if len(cut) > limit // 2 else line[: limit - 1]) + "…"


def _attempts_rows(summary: dict[str, Any]) -> list[str]:
    a = summary.get("attempts")
    if not a:
        return []
    return [
        "",
        f"| attempts per task | {a['count']} |",
        "|---|---|",
        f"| pass@1 (first attempt alone) | {a['pass_at_1']} / {a['tasks']} |",
        f"| best-of-{a['count']} (any attempt resolved) | {a['best_of_n']} / {a['tasks']} |",
        f"| chosen by the selection and resolved | {a['chosen_resolved']} / {a['tasks']} |",
        f"| selection accuracy (when one existed) | {a['selection_accuracy']:.1%} |",
        "",
    ]


def _markdown(summary: dict[str, Any], results: list[TaskResult], plots: list[str]) -> str:
    tokens, steps, wall = summary["tokens"], summary["steps"], summary["wall_seconds"]
    lines = [
        "# qcode eval report",
        "",
        f"**{summary['label']}**",
        "",
        "| | |",
        "|---|---|",
        f"| engine | `{summary['engine']}` (faults per turn: {summary['faults']}) |",
        f"| resolved | **{summary['resolved']} / {summary['tasks']}** ({summary['resolve_rate']:.1%}) |",
        f"| finished / errors | {summary['finished']} / {summary['errors']} |",
        f"| steps (mean / median / max) | {steps['mean']} / {steps['median']} / {steps['max']} |",
        f"| wall seconds per task (mean / max) | {wall['mean']} / {wall['max']} |",
        f"| tokens prompt / completion / cached | {tokens['prompt']:,} / {tokens['completion']:,} / "
        f"{tokens['cached']:,} |",
        f"| tool errors / recoveries / faults injected | {summary['tool_errors']} / {summary['recoveries']} "
        f"/ {summary['faults_injected']} |",
        "",
        *_attempts_rows(summary),
        *[f"![{name}]({name})" for name in plots],
        "",
        "| task | status | steps | prompt | completion | cached | wall s | tool errors | recoveries "
        "| grade |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.instance_id} | {r.status} | {r.steps} | {r.usage.prompt_tokens} | "
            f"{r.usage.completion_tokens} | {r.usage.cached_tokens} | {r.wall_seconds:.1f} | "
            f"{r.tool_errors} | {r.recoveries} | {short_reason(r.grade_reason or r.reason)} |"
        )
    return "\n".join(lines) + "\n"
