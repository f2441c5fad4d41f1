"""Engines for N attempts: one shared engine (vLLM batches concurrent sessions; the shared prefix
is computed once), or `mix:E1,E2,…`, which gives attempt K the K-th engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qcode.agent.contracts import Engine
from qcode.agent.exceptions import UserError

if TYPE_CHECKING:
    from qcode.config import Settings

__all__ = ["AttemptEngines", "SCRIPTED", "can_judge", "mix_specs"]

SCRIPTED = ("replay", "gold", "decoy")
"""Engines that act out a script: they cannot judge, and one cannot serve two attempts."""
MAX_MIX = 16


def mix_specs(spec: str) -> list[str] | None:
    """`mix:E1,E2,…` → [E1, E2, …]; None for any other spec."""
    if not spec.startswith("mix:"):
        return None
    parts = [part.strip() for part in spec[4:].split(",") if part.strip()]
    if not parts or len(parts) > MAX_MIX:
        raise UserError(f"--engine mix: needs 1 to {MAX_MIX} engines, e.g. mix:replay:A.jsonl,replay:B.jsonl")
    return parts


def can_judge(engine: Engine) -> bool:
    return engine.name.split(":", 1)[0] not in SCRIPTED


class AttemptEngines:
    """The engine of each attempt, closed once each however many attempts share it."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.engines = list(engines)

    @classmethod
    def build(cls, spec: str, settings: Settings, count: int, *, warm: bool = False) -> AttemptEngines:
        """`warm`: the front door uses the warm engine when the settings do not say (qcode fix)."""
        from qcode.agent.engines import make_engine

        specs = mix_specs(spec)
        if specs is not None:
            if len(specs) != count:
                raise UserError(
                    f"--engine mix: names {len(specs)} engines for {count} attempts; make them match"
                )
            built: list[Engine] = []
            try:
                for one in specs:
                    built.append(make_engine(one, settings, warm=warm))
            except BaseException:
                cls(built).close()
                raise
            return cls(built)
        if count > 1 and spec.split(":", 1)[0] in SCRIPTED:
            raise UserError(
                f"--attempts {count} cannot share one {spec.split(':', 1)[0]} engine; give each attempt "
                "its own with --engine mix:replay:A.jsonl,replay:B.jsonl,…"
            )
        return cls([make_engine(spec, settings, warm=warm)] * count)

    def judge(self) -> Engine | None:
        """The first engine that can judge (a model, not a script)."""
        return next((engine for engine in self.engines if can_judge(engine)), None)

    def close(self) -> None:
        seen: set[int] = set()
        for engine in self.engines:
            if id(engine) not in seen:
                seen.add(id(engine))
                engine.close()
