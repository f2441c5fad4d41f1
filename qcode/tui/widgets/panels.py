"""The plan panel and the two one-line bars (session at the top, progress at the bottom)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from qcode.agent.contracts import PlanStep
from qcode.tui.view_model import fit_status

__all__ = ["PlanPanel", "StatusBar", "TopBar"]

_MARK = {
    "done": ("✓ ", "green"),
    "in_progress": ("▶ ", "bold yellow"),
    "pending": ("· ", "dim"),
    "failed": ("✗ ", "bold red"),
}
_PHASE = {"planner": "planning", "executor": "executing"}


class PlanPanel(Static):
    """The latest `update_plan`, one line a step; the title counts the done steps and names the
    loop's phase (planning with read-only tools, or executing the plan)."""

    plan: reactive[tuple[PlanStep, ...]] = reactive((), layout=True)
    phase: reactive[str] = reactive("")

    def on_mount(self) -> None:
        self.border_title = "plan"

    def render(self) -> Text:
        if not self.plan:
            return Text("no plan yet", style="dim")
        text = Text()
        for index, step in enumerate(self.plan):
            mark, style = _MARK[step.status]
            text.append(mark, style=style)
            text.append(step.step, style="dim" if step.status == "done" else "")
            if index < len(self.plan) - 1:
                text.append("\n")
        return text

    def watch_plan(self, plan: tuple[PlanStep, ...]) -> None:
        self.border_title = self._title()

    def watch_phase(self, phase: str) -> None:
        self.border_title = self._title()

    def _title(self) -> str:
        done = sum(step.status == "done" for step in self.plan)
        title = f"plan {done}/{len(self.plan)}" if self.plan else "plan"
        return f"{title} · {_PHASE[self.phase]}" if self.phase in _PHASE else title


class TopBar(Static):
    """Repository, branch and approval mode."""

    repo: reactive[str] = reactive("")
    branch: reactive[str] = reactive("")
    approval: reactive[str] = reactive("ask")

    def render(self) -> Text:
        text = Text()
        text.append(" qcode ", style="bold reverse")
        text.append(f" {self.repo}")
        if self.branch:
            text.append(" → ", style="dim")
            text.append(self.branch, style="cyan")
        text.append(f"  approval: {self.approval}", style="dim")
        return text


class StatusBar(Static):
    """What the agent is doing, the model, tokens, speed and elapsed time."""

    state: reactive[str] = reactive("starting")
    model: reactive[str] = reactive("")
    stats: reactive[str] = reactive("")
    elapsed: reactive[str] = reactive("00:00")

    def render(self) -> Text:
        style = {
            "running": "bold yellow",
            "idle": "green",
            "asking": "bold magenta",
            "error": "bold red",
        }.get(self.state.split(" ")[0], "bold")
        head = f" {self.state} · {self.elapsed} "
        stats = fit_status(head, self.stats, self.model, self.size.width)
        text = Text()
        text.append(f" {self.state} ", style=style)
        text.append(f"· {self.elapsed} ", style="dim")
        if stats:
            text.append(f"· {stats} ")
        text.append(f"· {self.model}", style="dim")
        return text
