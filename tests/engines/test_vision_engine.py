"""VisionEngine and ImageStore: images ride on the copy of the messages each request sends, bound
to the user message they were attached before; the loop's history stays text."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from qcode.agent.contracts import Turn
from qcode.agent.exceptions import UserError

from qcode.images import MAX_IMAGES, ImageStore, VisionEngine, image_paths_in

PNG = b"\x89PNG\r\n\x1a\n" + bytes(8)
GIF = b"GIF89a" + bytes(8)


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[list[dict[str, Any]]] = []

    def complete(self, messages: Sequence[Any], tools: Sequence[Any], *, on_token: Any = None) -> Turn:
        self.sent.append(copy.deepcopy(list(messages)))
        return Turn(text="ok")

    def close(self) -> None:
        pass


def _images(message: dict[str, Any]) -> list[str]:
    content = message["content"]
    return [] if isinstance(content, str) else [p["image_url"]["url"][:15] for p in content[1:]]


def test_each_image_stays_with_the_message_it_was_attached_before(tmp_path: Path) -> None:
    inner = Recorder()
    engine = VisionEngine(inner)
    store = engine.open_store(tmp_path / "session")
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "b.gif").write_bytes(GIF)
    history: list[dict[str, Any]] = [{"role": "system", "content": "s"}, {"role": "user", "content": "task"}]
    store.attach([tmp_path / "a.png"])
    engine.complete(history, [])
    history += [{"role": "assistant", "content": "a"}, {"role": "user", "content": "follow-up"}]
    store.attach_bytes([GIF])
    engine.complete(history, [])
    history += [{"role": "assistant", "content": "b"}, {"role": "user", "content": "more"}]
    engine.complete(history, [])
    first, second, third = inner.sent
    assert _images(first[1]) == ["data:image/png;"]
    assert _images(second[1]) == ["data:image/png;"] and _images(second[3]) == ["data:image/gif;"]
    assert third[1] == second[1] and third[3] == second[3] and third[5]["content"] == "more"
    assert all(isinstance(m["content"], str) for m in history)  # the loop's history is untouched

    again = ImageStore(tmp_path / "session")  # a resume reads the manifest
    assert [(i.file, i.user_message) for i in again.images] == [("1.png", 0), ("2.gif", 1)]


def test_the_cap_and_a_damaged_manifest(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    store.attach_bytes([PNG] * MAX_IMAGES)
    with pytest.raises(UserError, match="at most 5"):
        store.attach_bytes([PNG])
    (tmp_path / "images" / "images.json").write_text("{not json")
    with pytest.raises(UserError, match="damaged"):
        ImageStore(tmp_path)


def test_a_copy_of_the_wrapper_does_not_recurse() -> None:
    engine = VisionEngine(Recorder())
    assert copy.copy(engine).name == "recorder"


def test_attributes_set_through_the_wrapper_reach_the_engine(tmp_path: Path) -> None:
    """The runner sets the warm engine's `on_notice` on whatever engine the session got; behind the
    image wrapper it must still reach the engine that restarts (a read-through-only wrapper kept it)."""
    inner = Recorder()
    engine = VisionEngine(inner)
    engine.on_notice = print  # type: ignore[attr-defined]
    assert inner.on_notice is print  # type: ignore[attr-defined]
    engine.open_store(tmp_path)
    assert engine.store is not None and not hasattr(inner, "store")  # the wrapper's own stay here


def test_image_paths_in_a_message(tmp_path: Path) -> None:
    shot = tmp_path / "my shot.PNG"
    shot.write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("x")
    escaped = str(shot).replace(" ", "\\ ")
    assert image_paths_in(f"look at {escaped} now") == [shot]
    assert image_paths_in(f"look at '{shot}'") == [shot]
    assert image_paths_in(f"{tmp_path}/notes.txt {tmp_path}/missing.png shot.png it's broken") == []
    many = tmp_path / "a.png"
    many.write_bytes(PNG)
    assert len(image_paths_in(" ".join([str(many)] * 9))) == MAX_IMAGES
