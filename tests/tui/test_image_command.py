"""`/image PATH` in the app: the screenshot is checked, copied into the session folder and bound to
the next message; a bad file is a note, and nothing is attached."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from qcode.config import Settings
from qcode.images import VisionEngine
from qcode.tui.app import QcodeApp
from tests.e2e.helpers import raw_call
from tests.tui.conftest import until
from tests.tui.test_app import notes, quit_app

pytestmark = pytest.mark.docker

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def test_image_goes_with_the_next_message(
    buggy_repo: Path, tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for([raw_call("finish", summary="seen")] * 2, "yolo", buggy_repo)
    shot, fake = tmp_path / "shot.png", tmp_path / "fake.png"
    shot.write_bytes(PNG)
    fake.write_text("<svg/>")

    async def scenario() -> None:
        app = QcodeApp(settings, buggy_repo)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.state == "idle", "the session to be ready")
            for text in ("/image", f"/image {fake}", f"/image {shot}"):
                app.prompt.insert(text)
                await pilot.press("enter")
            await until(pilot, lambda: len(notes(app)) == 3, "three notes")
            assert notes(app)[0].startswith("usage: /image PATH")
            assert "not a PNG, JPEG, WebP or GIF" in notes(app)[1]
            assert notes(app)[2] == "attached shot.png: it goes with your next message"
            engine = app._engine
            assert isinstance(engine, VisionEngine) and engine.store is not None
            assert engine.store.pending == 1
            await pilot.press(*"what is wrong here", "enter")
            await until(pilot, lambda: app.state == "idle" and bool(app.query(".finished")), "the run")
            assert app.session is not None
            folder = app.session.folder / "images"
            assert (folder / "1.png").read_bytes() == PNG
            manifest = json.loads((folder / "images.json").read_text())
            assert manifest["images"] == [{"file": "1.png", "mime": "image/png", "user_message": 0}]
            assert not list(app.session.workspace.path.rglob("*.png"))  # never in the workspace

            # A dragged-in screenshot pastes its path (quoted): it goes with that message.
            dragged = tmp_path / "my shot.png"
            dragged.write_bytes(PNG)
            app.prompt.insert(f"and now '{dragged}' and /etc/passwd?")
            await pilot.press("enter")
            await until(
                pilot, lambda: len(app.query(".finished")) == 2 and app.state == "idle", "the follow-up"
            )
            assert "attached my shot.png" in notes(app)
            manifest = json.loads((folder / "images.json").read_text())
            assert [(i["file"], i["user_message"]) for i in manifest["images"]] == [
                ("1.png", 0),
                ("2.png", 1),
            ]
            await quit_app(pilot, app)

    asyncio.run(scenario())
