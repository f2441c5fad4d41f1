"""`qcode acp`: serve the Agent Client Protocol on stdin/stdout for an editor (Zed, JetBrains,
Neovim). stdout carries only the protocol; messages go to stderr."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import click

__all__ = ["command"]


@click.command()
@click.option("--engine", help="vllm, openai or replay:FILE.")
@click.option("--model", help="Model name or local folder.")
@click.option("--max-steps", type=int, help="Model calls per prompt, the planner's included.")
@click.option("--verify", "verify_command", help="Command run in the sandbox after finish, e.g. 'pytest -q'.")
@click.option(
    "--approval",
    type=click.Choice(["ask", "auto-edit", "yolo"]),
    help="Which tool calls ask the editor first.  [default: the approval setting]",
)
def command(
    engine: str | None,
    model: str | None,
    max_steps: int | None,
    verify_command: str | None,
    approval: str | None,
) -> None:
    """Run as an Agent Client Protocol agent on stdio, for editors (Zed's agent_servers)."""
    logging.basicConfig(level=logging.WARNING, format="qcode acp: %(message)s")  # stderr
    flags: dict[str, Any] = {
        "engine": engine,
        "model": model,
        "max_steps": max_steps,
        "verify_command": verify_command,
    }
    asyncio.run(_serve({k: v for k, v in flags.items() if v is not None}, approval))


async def _serve(flags: dict[str, Any], approval: str | None) -> None:
    from acp import run_agent

    from qcode.acp.agent import QcodeAgent

    agent = QcodeAgent(flags, approval)
    try:
        await run_agent(agent)
    finally:
        await agent.close()
