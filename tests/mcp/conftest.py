"""Real MCP servers for the tests: a stdio command line and a streamable-HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.polling import wait_until

SERVER = Path(__file__).with_name("mcp_server.py")


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The tiny random-weight Qwen3 model (built once, cached), as in tests/engines."""
    from qcode.evals.tiny_model import cached_tiny_qwen3

    return cached_tiny_qwen3()


def stdio_entry(**extra: object) -> dict[str, object]:
    return {"command": sys.executable, "args": [str(SERVER), "stdio"], **extra}


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """The test server over streamable HTTP; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "http-server.log").open("w")
    proc = subprocess.Popen([sys.executable, str(SERVER), "http", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_until(lambda: _answers(url), 60, "the MCP HTTP server")
        yield url
    finally:
        proc.kill()
        proc.wait()
        log.close()
