"""Screenshots for the model: checked, copied into the session folder, sent as `image_url` parts.

An image is attached to a user message of the conversation (the task, or a follow-up). The loop's
history keeps plain text; `VisionEngine` wraps the session's engine and adds the images to the
copy of the messages each request sends, so the history stays append-only and the prefix cache
still hits. The copies live in the session folder (never in the workspace, so the sandbox never
sees them) with a manifest, from which a resumed session sends them again.
"""

from __future__ import annotations

import base64
import os
import shlex
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from qcode.agent.exceptions import UserError

if TYPE_CHECKING:
    from qcode.agent.contracts import Engine, Message, TokenCallback, Turn
    from qcode.config import Settings

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGES",
    "ImageStore",
    "check_image_bytes",
    "check_images",
    "image_paths_in",
    "VisionEngine",
    "check_engine_takes_images",
    "read_image",
    "sniff",
]

MAX_IMAGES = 5
"""Images per session."""
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MANIFEST = "images.json"
_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
]


_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def image_paths_in(text: str) -> list[Path]:
    """Paths of image files named in a message (a screenshot dragged into the terminal pastes its
    path, quoted or with escaped spaces): absolute or `~` paths with an image suffix that are
    regular files, at most `MAX_IMAGES`. Nothing else is looked at on disk."""
    try:
        words = shlex.split(text, posix=True)
    except ValueError:  # an unbalanced quote in ordinary prose
        words = text.split()
    found: list[Path] = []
    for word in words:
        if word.startswith(("/", "~/")) and word.lower().endswith(_SUFFIXES) and len(found) < MAX_IMAGES:
            path = Path(word).expanduser()
            if path.is_file():
                found.append(path)
    return found


def sniff(head: bytes) -> tuple[str, str] | None:
    """(MIME type, extension) from the file's first bytes, whatever its name says; None if unknown."""
    for magic, mime, ext in _MAGIC:
        if head.startswith(magic):
            return mime, ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def read_image(path: Path) -> tuple[bytes, str, str]:
    """The bytes, MIME type and extension of an image file; a one-line UserError for anything else
    (missing, not a regular file, over 10 MB, not PNG/JPEG/WebP/GIF). Reads at most the cap."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not hang us
    except OSError as err:
        raise UserError(
            f"cannot read image {path}: {err.strerror}; pass a PNG, JPEG, WebP or GIF file"
        ) from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"image {path} is not a regular file; pass a PNG, JPEG, WebP or GIF file")
        data = file.read(MAX_IMAGE_BYTES + 1)
    return data, *check_image_bytes(data, f"image {path}")


def check_image_bytes(data: bytes, name: str) -> tuple[str, str]:
    """(MIME type, extension) of an image's bytes; a one-line UserError naming `name` otherwise."""
    if len(data) > MAX_IMAGE_BYTES:
        raise UserError(f"{name} is over {MAX_IMAGE_BYTES // 2**20} MB; attach a smaller screenshot")
    kind = sniff(data[:16])
    if kind is None:
        raise UserError(f"{name} is not a PNG, JPEG, WebP or GIF image (by its first bytes)")
    return kind


class StoredImage(BaseModel):
    file: str
    """Name inside the session's images/ folder."""
    mime: str
    user_message: int | None = None
    """Which user message (0 = the first) carries it; None until the next request binds it."""


class _Manifest(BaseModel):
    images: list[StoredImage] = []


class ImageStore:
    """A session's images: copies in `<session>/images/` and the manifest of where each belongs."""

    def __init__(self, session_folder: Path) -> None:
        self.folder = session_folder / "images"
        self.images = self._load()
        self._urls: dict[str, str] = {}

    def _load(self) -> list[StoredImage]:
        path = self.folder / MANIFEST
        try:
            raw = path.read_bytes()[: 1 << 16] if path.is_file() else b""
            return _Manifest.model_validate_json(raw).images if raw else []
        except ValidationError:
            raise UserError(f"{path} is damaged; remove it to resume without the images") from None

    def attach(self, paths: Sequence[Path]) -> None:
        """Copy `paths` in; they go with the next user message. Checks all before copying any."""
        if len(self.images) + len(paths) > MAX_IMAGES:
            raise UserError(f"at most {MAX_IMAGES} images per session; attach fewer")
        self._add([read_image(path) for path in paths])

    def attach_bytes(self, images: Sequence[bytes]) -> None:
        """The same for images that came as bytes (an editor's pasted screenshot)."""
        if len(self.images) + len(images) > MAX_IMAGES:
            raise UserError(f"at most {MAX_IMAGES} images per session; attach fewer")
        self._add(
            [(data, *check_image_bytes(data, f"pasted image {i + 1}")) for i, data in enumerate(images)]
        )

    def _add(self, checked: Sequence[tuple[bytes, str, str]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for data, mime, ext in checked:
            name = f"{len(self.images) + 1}.{ext}"
            (self.folder / name).write_bytes(data)
            self.images.append(StoredImage(file=name, mime=mime))
        self._save()

    @property
    def pending(self) -> int:
        return sum(image.user_message is None for image in self.images)

    def bind(self, user_message: int) -> None:
        """Pending images belong to user message number `user_message` from now on."""
        if self.pending:
            for image in self.images:
                if image.user_message is None:
                    image.user_message = user_message
            self._save()

    def parts_for(self, user_message: int) -> list[dict[str, Any]]:
        """`image_url` content parts (data URLs) for that user message's images."""
        return [
            {"type": "image_url", "image_url": {"url": self._url(image)}}
            for image in self.images
            if image.user_message == user_message
        ]

    def _url(self, image: StoredImage) -> str:
        if image.file not in self._urls:  # read once: at most 5 × 10 MB, kept for the session
            data = (self.folder / Path(image.file).name).read_bytes()[:MAX_IMAGE_BYTES]
            self._urls[image.file] = f"data:{image.mime};base64,{base64.b64encode(data).decode()}"
        return self._urls[image.file]

    def _save(self) -> None:
        tmp = self.folder / f".{MANIFEST}.tmp"
        tmp.write_text(_Manifest(images=self.images).model_dump_json(indent=1), encoding="utf-8")
        tmp.replace(self.folder / MANIFEST)


class VisionEngine:
    """Wraps an engine: each request's copy of the messages carries the session's images as
    content parts of the user messages they belong to. Everything else is the wrapped engine's."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.store: ImageStore | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (a copy being made): no recursion through ourselves
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        """Writes pass through like reads (the runner sets the warm engine's `on_notice`); only
        the wrapper's own two attributes stay here."""
        if name in ("inner", "store"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.inner, name, value)

    def open_store(self, session_folder: Path) -> ImageStore:
        """The session's images (those kept by an earlier run come back on a resume)."""
        self.store = ImageStore(session_folder)
        return self.store

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        *,
        on_token: TokenCallback | None = None,
    ) -> Turn:
        return self.inner.complete(self.with_images(messages), tools, on_token=on_token)

    def with_images(self, messages: Sequence[Message]) -> list[Message]:
        users = [i for i, message in enumerate(messages) if message.get("role") == "user"]
        if self.store is None or not users:
            return list(messages)
        self.store.bind(len(users) - 1)  # attached since the last request: the newest user message
        shaped = list(messages)
        for number, index in enumerate(users):
            parts = self.store.parts_for(number)
            if parts:
                text = shaped[index].get("content") or ""
                shaped[index] = {**shaped[index], "content": [{"type": "text", "text": text}, *parts]}
        return shaped

    def close(self) -> None:
        self.inner.close()


def check_images(settings: Settings, paths: Sequence[Path]) -> None:
    """Every file and the engine checked (one-line UserError) before any work starts."""
    if len(paths) > MAX_IMAGES:
        raise UserError(f"at most {MAX_IMAGES} images per session; attach fewer")
    check_engine_takes_images(settings)
    for path in paths:
        read_image(path)


def check_engine_takes_images(settings: Settings) -> None:
    """Refuse images, before any work, for an engine that cannot take them. `openai` servers say
    for themselves; the embedded engine is refused: a non-vision model (no `vision_config` in its
    config.json) cannot, and no vision model has been tested on it yet."""
    kind = settings.engine.partition(":")[0]
    if kind != "vllm":
        return
    from qcode.agent.engines.vllm_setup import model_config

    if "vision_config" not in model_config(settings.model):
        raise UserError(
            f"the model {settings.model} does not take images (no vision_config in its config.json); "
            "drop --image, or use --engine openai with a vision model"
        )
    raise UserError(
        "images with the embedded vllm engine are untested; serve the model with `vllm serve` and "
        "use --engine openai"
    )
