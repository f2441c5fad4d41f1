"""`qcode fix --image`: the openai engine sends the screenshot as an `image_url` part (checked by the
fake server against OpenAI's documented shape), on every request; the copy lives in the session
folder, never in the workspace; a resume sends it again; bad files and non-vision engines are
refused with one line before any work."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from qcode.evals.tiny_model import cached_tiny_qwen3

from qcode.config import load_settings
from qcode.images import MAX_IMAGE_BYTES, VisionEngine, sniff
from qcode.runner import new_session
from tests.e2e.helpers import QCODE, run_qcode
from tests.engines.fake_openai import Behaviour, fake_openai_server

pytestmark = pytest.mark.docker

CANARY = f"qcode-image-canary-{secrets.token_hex(4)}"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + CANARY.encode() + bytes(64)


def _answer(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"content": "", "tool_calls": [(name, json.dumps(arguments))]}


def _env(url: str) -> dict[str, str]:
    return {"QCODE_OPENAI_BASE_URL": url}


def _images_in(request: dict[str, Any]) -> list[tuple[int, str]]:
    """(message index, data URL) of every image part of a request."""
    return [
        (index, part["image_url"]["url"])
        for index, message in enumerate(request["messages"])
        if isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]


def test_the_image_reaches_the_server_every_request_and_after_a_resume(
    make_repo, tmp_path: Path, isolated_state: Path
) -> None:
    repo = make_repo({"app.py": "print('hi')\n"})
    shot = tmp_path / "shot.png"
    shot.write_bytes(PNG)
    grep = f"grep -rl {CANARY} /workspace /tmp; echo searched"
    behaviour = Behaviour(
        answers=[
            _answer("shell", {"command": grep}),
            _answer("write_file", {"path": "app.py", "content": "print('hello')\n"}),
            _answer("finish", {"summary": "greets"}),
        ]
    )
    with fake_openai_server(behaviour) as url:
        done = run_qcode(
            "fix", "the greeting in the screenshot is wrong", "--repo", str(repo), "--engine", "openai",
            "--image", str(shot), "--json", env=_env(url),
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert len(behaviour.requests) == 3
    for request in behaviour.requests:  # the first user message (the task) carries it, every time
        assert _images_in(request) == [(1, expected)]
        first_user = request["messages"][1]["content"]
        assert first_user[0]["type"] == "text" and "greeting in the screenshot" in first_user[0]["text"]
    # kept in the session folder, seen neither by the sandbox nor in the trajectory or the commit
    folder = isolated_state / "sessions" / result["session_id"]
    assert (folder / "images" / "1.png").read_bytes() == PNG
    observation = next(
        json.loads(line)
        for line in Path(result["trajectory"]).read_text().splitlines()
        if '"observation"' in line and "searched" in line
    )
    assert CANARY not in observation["text"].replace(grep, "")
    assert CANARY not in Path(result["trajectory"]).read_text().replace(grep, "")
    assert CANARY not in Path(result["patch"]).read_text()

    # A resume (as the TUI's /resume opens it) sends the image with the same message again.
    resumed = Behaviour(answers=[_answer("finish", {"summary": "still fine"})])
    with fake_openai_server(resumed) as url:
        settings = load_settings({"engine": "openai", "openai_base_url": url}, repo).settings
        from qcode.agent.engines import make_engine

        engine = VisionEngine(make_engine("openai", settings))
        with new_session(settings, repo, engine=engine, resume=result["session_id"]) as session:
            engine.open_store(session.folder)
            session.run("and the farewell?")
        engine.close()
    (request,) = resumed.requests
    assert _images_in(request) == [(1, expected)]
    assert request["messages"][-1]["content"] == "and the farewell?"


def test_bad_images_are_refused_before_any_work(make_repo, tmp_path: Path, isolated_state: Path) -> None:
    repo = make_repo({"app.py": "print('hi')\n"})
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    big = tmp_path / "big.png"
    big.write_bytes(PNG + bytes(MAX_IMAGE_BYTES))
    good = tmp_path / "ok.gif"
    good.write_bytes(b"GIF89a" + bytes(16))
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    cases = {
        "not a PNG, JPEG, WebP or GIF": [text],
        "over 10 MB": [big],
        "at most 5 images": [good] * 6,
        "cannot read image": [tmp_path / "missing.png"],
        "not a regular file": [fifo],
    }
    for message, files in cases.items():
        flags = [arg for path in files for arg in ("--image", str(path))]
        done = run_qcode("fix", "x", "--repo", str(repo), "--engine", "openai", *flags, timeout=60)
        assert done.returncode == 2, (message, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (isolated_state / "sessions").exists()


def test_a_model_without_vision_is_refused_in_one_line(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"app.py": "print('hi')\n"})
    shot = tmp_path / "shot.png"
    shot.write_bytes(PNG)
    tiny = cached_tiny_qwen3()
    assert "vision_config" not in json.loads((tiny / "config.json").read_text())
    args = ["fix", "x", "--repo", str(repo), "--engine", "vllm", "--model", str(tiny), "--image", str(shot)]
    done = subprocess.run(
        [*QCODE, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 2
    assert "does not take images" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_sniff_reads_magic_bytes_not_names() -> None:
    assert sniff(PNG[:16]) == ("image/png", "png")
    assert sniff(b"\xff\xd8\xff\xe0" + bytes(12)) == ("image/jpeg", "jpg")
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("image/webp", "webp")
    assert sniff(b"GIF87a" + bytes(10)) == ("image/gif", "gif")
    assert sniff(b"<svg xmlns=") is None and sniff(b"RIFF\x00\x00\x00\x00WAVE") is None
