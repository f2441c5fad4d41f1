"""The judge turn: when several candidates remain, the model compares their diffs with the issue
and names one, with its reason. The diffs are untrusted text and are capped."""

from __future__ import annotations

import re

from qcode.agent.attempts._select import Judge
from qcode.agent.contracts import Engine
from qcode.agent.exceptions import QcodeError
from qcode.prompts import defuse

__all__ = ["make_judge"]

DIFF_CHARS = 12_000
"""Characters of each candidate's diff shown to the judge."""
_CHOICE = re.compile(r"CHOICE:\s*(\d+)\s*(?:[-—:]\s*)?(.*)", re.I)


def make_judge(engine: Engine | None, task: str, diffs: dict[int, str]) -> Judge | None:
    if engine is None:
        return None

    def judge(remaining: list[int]) -> tuple[int, str] | None:
        blocks = "\n\n".join(
            f'<candidate number="{n}">\n{_shown(diffs.get(n, ""))}\n</candidate>' for n in remaining
        )
        prompt = (
            f"<issue>\n{defuse(task, tags=('issue',))}\n</issue>\n\n{blocks}\n\n"
            "Each candidate passed the same tests. Which one fixes the issue best (correct, minimal, "
            "no unrelated changes)? Answer on the last line exactly as `CHOICE: N - one-line reason`."
        )
        messages = [
            {"role": "system", "content": "You review patches and pick the best one."},
            {"role": "user", "content": prompt},
        ]
        try:
            turn = engine.complete(messages, [])
        except QcodeError:
            return None
        found = _CHOICE.findall(turn.text or "")
        if not found:
            return None
        number, reason = found[-1]
        return int(number), (reason.strip() or "no reason given")[:200]

    return judge


def _shown(diff: str) -> str:
    return defuse(diff[:DIFF_CHARS], tags=("candidate",))
