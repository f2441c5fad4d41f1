"""An editor's pasted screenshot (an ACP image block) reaches an OpenAI-compatible server as an
`image_url` part; a block that is not an image is refused and nothing runs."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path

import pytest
from acp import (
    RequestError,
    embedded_text_resource,
    image_block,
    resource_block,
    spawn_agent_process,
    text_block,
)

from tests.acp.test_acp_e2e import RecordingClient
from tests.engines.fake_openai import Behaviour, fake_openai_server

pytestmark = pytest.mark.docker

PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)


def test_a_pasted_screenshot_is_sent_and_a_fake_one_refused(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"app.py": "print('hi')\n"})
    finish = {"content": "", "tool_calls": [("finish", json.dumps({"summary": "looked"}))]}
    behaviour = Behaviour(answers=[finish])

    async def scenario(url: str) -> None:
        client = RecordingClient([])
        env = {**os.environ, "QCODE_OPENAI_BASE_URL": url}
        with (tmp_path / "stderr.txt").open("w") as log:
            spawn = spawn_agent_process(
                client, "qcode", "acp", "--engine", "openai", "--approval", "yolo", env=env,
                transport_kwargs={"stderr": log, "shutdown_timeout": 60},
            )  # fmt: skip
            async with spawn as (conn, _process):
                init = await conn.initialize(protocol_version=1)
                assert init.agent_capabilities.prompt_capabilities.image
                session_id = (await conn.new_session(cwd=str(repo), mcp_servers=[])).session_id
                fake = image_block(base64.b64encode(b"<svg onload=alert(1)>").decode(), "image/png")
                with pytest.raises(RequestError):
                    await conn.prompt(session_id=session_id, prompt=[text_block("look"), fake])
                huge = resource_block(embedded_text_resource("file:///big.log", "x" * 300_000))
                with pytest.raises(RequestError):  # an embedded file is bounded like the TUI's @files
                    await conn.prompt(session_id=session_id, prompt=[text_block("read this"), huge])
                shot = image_block(base64.b64encode(PNG).decode(), "image/png")
                done = await conn.prompt(session_id=session_id, prompt=[text_block("what is wrong?"), shot])
                assert done.stop_reason == "end_turn"

    with fake_openai_server(behaviour) as url:
        asyncio.run(scenario(url))
    (request,) = behaviour.requests  # the refused prompt never reached the model
    parts = request["messages"][1]["content"]
    assert parts[0]["type"] == "text" and "what is wrong?" in parts[0]["text"]
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
    }
