"""Recoverable faults a real model makes, as raw Qwen3 output: broken XML, an unknown tool,
invalid arguments, an edit whose whitespace drifted from the file. The loop must turn each into
an observation the model can act on; the gold engine then sends the correct call.
"""

from __future__ import annotations

import json
import random
from typing import Any

from qcode.agent.qwen_xml import render_tool_call

__all__ = ["FAULT_KINDS", "Fault", "FaultInjector"]

FAULT_KINDS = ("malformed_xml", "unknown_tool", "invalid_arguments", "whitespace_edit")

_MISSPELLED = {
    "read_file": "read_files",
    "search": "grep",
    "edit_file": "edit",
    "shell": "run_shell",
    "update_plan": "plan",
    "finish": "submit",
    "write_file": "create_file",
    "list_files": "ls",
}


class Fault:
    """One faulty turn: its kind and the raw text the 'model' emits."""

    def __init__(self, kind: str, raw: str) -> None:
        self.kind, self.raw = kind, raw

    @property
    def may_succeed(self) -> bool:
        """A whitespace-drifted edit is meant to be repaired by tolerant matching; when it is,
        the correct call must not be sent again."""
        return self.kind == "whitespace_edit"


class FaultInjector:
    """Before a turn, with probability `rate`, a fault of a kind that fits the intended call."""

    def __init__(self, rate: float, seed: str) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("the fault rate is a probability between 0 and 1")
        self.rate = rate
        self.rng = random.Random(seed)

    def maybe(self, name: str, arguments: dict[str, Any]) -> Fault | None:
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        kinds = [kind for kind in FAULT_KINDS if kind != "whitespace_edit" or name == "edit_file"]
        kind = self.rng.choice(kinds)
        return Fault(kind, getattr(self, f"_{kind}")(name, arguments))

    def _malformed_xml(self, name: str, arguments: dict[str, Any]) -> str:
        first = next(iter(arguments.items()), ("path", "."))
        value = first[1] if isinstance(first[1], str) else json.dumps(first[1])
        forms = [
            f"<tool_call>\n<function=>\n<parameter={first[0]}>\n{value}\n</parameter>\n</function>\n</tool_call>",
            f"<tool_call>\n<parameter={first[0]}>\n{value}\n</parameter>\n</tool_call>",
            "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments})[:-2] + "\n</tool_call>",
        ]
        return self.rng.choice(forms)

    def _unknown_tool(self, name: str, arguments: dict[str, Any]) -> str:
        return render_tool_call(_MISSPELLED.get(name, name + "_tool"), arguments)

    def _invalid_arguments(self, name: str, arguments: dict[str, Any]) -> str:
        broken = dict(arguments)
        if name == "read_file":
            broken["start_line"] = "the top"
        elif name == "update_plan":
            broken["plan"] = "reproduce, fix, verify"
        elif broken:
            broken.pop(next(iter(broken)))  # a required argument forgotten
        else:
            broken["no_such_argument"] = "x"
        return render_tool_call(name, broken)

    def _whitespace_edit(self, name: str, arguments: dict[str, Any]) -> str:
        drifted = dict(arguments)
        if self.rng.random() < 0.5:
            drifted["old_text"] = "\n".join(
                line + "  " if line.strip() else line for line in arguments["old_text"].split("\n")
            )
        else:
            for key in ("old_text", "new_text"):
                drifted[key] = "\n".join(
                    "  " + line if line.strip() else line for line in arguments[key].split("\n")
                )
        return render_tool_call(name, drifted)
