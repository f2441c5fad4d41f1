"""The warm engine: one vLLM engine per user, in its own process, serving every qcode session.

A daemon (`server`) holds one `VllmEngine`; front doors reach it through `WarmEngine` (`client`),
an `Engine` that speaks JSON lines over a Unix socket (`wire`). `lifecycle` starts it (once, under
a lock), finds it, stops it and reads its status; `paths` says where its files live.
"""

from __future__ import annotations

from qcode.agent.engines.warm.client import WarmEngine
from qcode.agent.engines.warm.lifecycle import engine_status, ensure_engine, stop_engine
from qcode.agent.engines.warm.paths import EnginePaths, engine_paths

__all__ = ["EnginePaths", "WarmEngine", "engine_paths", "engine_status", "ensure_engine", "stop_engine"]
