"""`qcode eval`: run a tasks file through qcode and write a graded report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from qcode.cli import stderr

__all__ = ["command"]


@click.command("eval")
@click.option(
    "--tasks",
    "tasks_file",
    type=click.Path(path_type=Path),
    required=True,
    help="Tasks as JSON or JSONL (SWE-bench fields plus repo_path).",
)
@click.option(
    "--engine",
    default="gold",
    show_default=True,
    help="gold (acts out each task's gold patch: a harness check), vllm, openai or replay:FILE.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Tasks run at once."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("eval-out"),
    show_default=True,
    help="Output folder; tasks already finished there are skipped.",
)
@click.option(
    "--faults",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Gold engine: probability per turn of a recoverable fault before the correct call.",
)
@click.option(
    "--repos-dir",
    type=click.Path(path_type=Path),
    help="Folder of owner__name clones for tasks without repo_path (SWE-bench files).",
)
@click.option("--max-steps", type=int, help="Model calls per task, the planner's included.")
def command(
    tasks_file: Path,
    engine: str,
    workers: int,
    out: Path,
    faults: float,
    repos_dir: Path | None,
    max_steps: int | None,
) -> None:
    """Resolve every task of TASKS in its own sandbox, grade it with its tests, and report."""
    from qcode.config import load_settings
    from qcode.evals.report import write_report
    from qcode.evals.runner import EvalOptions, run_eval
    from qcode.evals.tasks import load_tasks
    from qcode.runner import check_sandbox

    tasks = load_tasks(tasks_file, repos_dir)
    if faults and engine != "gold":
        raise click.UsageError("--faults works with --engine gold only")
    settings = load_settings(
        {"engine": engine if engine != "gold" else None, "max_steps": max_steps}
    ).settings
    check_sandbox(settings)
    out.mkdir(parents=True, exist_ok=True)
    options = EvalOptions(engine=engine, workers=workers, faults=faults, out=out)
    results = run_eval(tasks, settings, options, log=lambda line: stderr.print(line, markup=False))
    summary = write_report(out, results, len(tasks), options)
    if engine == "gold":
        stderr.print(f"[yellow]{summary['label']}[/]")
    stderr.print(
        f"resolved {summary['resolved']}/{summary['tasks']} ({summary['resolve_rate']:.1%}); "
        f"report: {out / 'report.md'}"
    )
    sys.exit(0 if summary["finished"] == len(tasks) and summary["errors"] == 0 else 1)
