"""The planner–executor phases: which tools each phase may call and when the phase changes.

Pure rules over the plan and the tools' declared effects; the loop applies them. The planner
explores with read-only tools and ends by recording a plan; the executor works it step by step; a
failed step, a rollback or a stuck episode returns to the planner. Both phases share one growing
history (the prefix cache) and see every tool's schema: only the calls are restricted.
"""

from __future__ import annotations

from collections.abc import Sequence

from qcode.agent.contracts import Observation, PlanStep, ToolCall
from qcode.agent.events import Phase
from qcode.prompts import render
from qcode.tools.builtin import UPDATE_PLAN
from qcode.tools.registry import Tool, ToolRegistry

__all__ = ["Phase", "after_plan", "planner_refusal", "planner_tools", "start_phase"]


def planner_tools(registry: ToolRegistry) -> list[str]:
    """The tools the planner may call: those that only read, and `update_plan`."""
    return [tool.name for tool in registry.tools() if _planner_may(tool)]


def _planner_may(tool: Tool) -> bool:
    return tool.effect == "read" or tool.name == UPDATE_PLAN


def planner_refusal(call: ToolCall, registry: ToolRegistry) -> Observation | None:
    """The answer to a planner-phase call of a tool that is not read-only (it is not run); None
    when the call may run (unknown tools and malformed calls get the registry's own answer)."""
    tool = next((t for t in registry.tools() if t.name == call.name), None)
    if tool is None or call.problem or _planner_may(tool):
        return None
    text = render("planner_refusal", tool=call.name, tools=", ".join(planner_tools(registry)))
    return Observation(ok=False, text=text, data={"error": "planner_phase"})


def start_phase(plan: Sequence[PlanStep], current: Phase | None = None) -> Phase:
    """A run plans first when there is no plan to work, the last one has a failed step, or the
    loop was sent back to planning (stuck, rolled back, undone) and has not planned since."""
    if current == "planner" or not plan or any(step.status == "failed" for step in plan):
        return "planner"
    return "executor"


def after_plan(phase: Phase, plan: Sequence[PlanStep]) -> tuple[Phase, str] | None:
    """The phase an accepted `update_plan` leads to and the instructions that say so, or None
    when the phase stays."""
    failed = [step.step for step in plan if step.status == "failed"]
    if phase == "executor" and failed:
        return "planner", render("replan", reason=f"the step `{failed[0]}` failed")
    if phase == "planner" and plan and not failed:
        return "executor", render("executor")
    return None
