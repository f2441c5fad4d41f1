"""A small OpenAI-compatible chat server on 127.0.0.1 for the openai engine's tests.

It speaks the documented shapes: `GET /v1/models` (with vLLM's `max_model_len` extra) and
streamed `POST /v1/chat/completions` (SSE chunks with content, reasoning_content, tool-call
fragments, and a final usage chunk). `behaviour` scripts what the next answers are.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_http import LocalHttpServer


@dataclass
class Behaviour:
    model: str = "Qwen/Qwen3.6-27B"
    max_model_len: int | None = 262144
    native_tools: bool = True
    """False: answer 400 to any request with tool_choice=auto, like vllm serve without a tool parser."""
    refuse_extras: bool = False
    """True: answer 400 to requests carrying chat_template_kwargs, like a strict server."""
    context_limit: int | Callable[[list[dict[str, Any]]], int] | None = None
    """Words a request may hold (or, given the requests so far, the limit for the latest one)."""
    refuse: str | None = None
    """A request field to answer 400 for ("Unrecognized request argument supplied: NAME")."""
    answers: list[dict[str, Any]] = field(default_factory=list)
    """Each: {"content": str, "reasoning": str, "tool_calls": [(name, arguments_json)]}."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    held: int = 0
    """Requests that were kept waiting by `hold`."""
    pause_after_reasoning: threading.Event | None = None
    """When given: after an answer's reasoning chunks, wait (at most a minute) until it is set, so a
    client can be looked at while it has streamed reasoning and nothing else yet."""
    hold: threading.Event | None = None
    """When set and no answer is left: keep the request waiting until this is set (at most a
    minute), then answer 503 — a server that is still generating while its client is killed."""


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _stream(answer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield _chunk({"role": "assistant", "content": ""})
    for piece in _pieces(answer.get("reasoning", "")):
        yield _chunk({"reasoning_content": piece})
    for piece in _pieces(answer.get("content", "")):
        yield _chunk({"content": piece})
    for index, (name, arguments) in enumerate(answer.get("tool_calls", [])):
        yield _chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": f"chatcmpl-tool-{index}",
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ]
            }
        )
        for piece in _pieces(arguments):
            yield _chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield _chunk({}, "tool_calls" if answer.get("tool_calls") else "stop")
    yield {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 96},
        },
    }


def request_words(body: dict[str, Any]) -> int:
    """The fake's token count: whitespace-separated words of every message's content."""
    return sum(len(str(m.get("content", "")).split()) for m in body["messages"])


_IMAGE_URL = re.compile(r"^(https?://\S+|data:image/(png|jpeg|webp|gif);base64,[A-Za-z0-9+/]+=*)$")


def content_problem(messages: list[dict[str, Any]]) -> str | None:
    """What is wrong with the messages' content, by OpenAI's documented shape: a string, or (user
    messages) a list of parts `{"type": "text", "text": str}` and `{"type": "image_url",
    "image_url": {"url": an http(s) URL or a base64 data URL of an image, "detail"?}}`."""
    for index, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, str) or content is None:
            continue
        if not isinstance(content, list) or message.get("role") != "user":
            return f"messages[{index}].content: parts are only for user messages"
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str) and set(part) == {"type", "text"}:
                continue
            image = part.get("image_url") if kind == "image_url" else None
            if (
                isinstance(image, dict)
                and set(part) == {"type", "image_url"}
                and set(image) <= {"url", "detail"}
                and _IMAGE_URL.match(str(image.get("url", "")))
                and image.get("detail", "auto") in ("auto", "low", "high")
            ):
                continue
            return f"messages[{index}].content: invalid part {str(part)[:80]}"
    return None


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, message: str) -> None:
            self._json(400, {"error": {"message": message, "type": "BadRequestError", "code": 400}})

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != "/v1/models":
                return self._json(404, {"error": {"message": "not found"}})
            entry: dict[str, Any] = {"id": behaviour.model, "object": "model", "owned_by": "test"}
            if behaviour.max_model_len:
                entry["max_model_len"] = behaviour.max_model_len
            self._json(200, {"object": "list", "data": [entry]})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            behaviour.requests.append(body)
            words = request_words(body)
            limit = behaviour.context_limit
            if callable(limit):
                limit = limit(behaviour.requests)
            if limit and words > limit:
                return self._error(
                    f"This model's maximum context length is {limit} tokens. "
                    f"However, your request has {words} input tokens."
                )
            if problem := content_problem(body["messages"]):
                return self._error(problem)
            if behaviour.refuse and behaviour.refuse in body:
                return self._error(f"Unrecognized request argument supplied: {behaviour.refuse}")
            if behaviour.refuse_extras and "chat_template_kwargs" in body:
                return self._error("Unrecognized request argument supplied: chat_template_kwargs")
            if not behaviour.native_tools and body.get("tool_choice") == "auto":
                return self._error(
                    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
                )
            if not behaviour.answers and behaviour.hold is not None:
                behaviour.held += 1
                behaviour.hold.wait(60)
                with suppress(OSError):  # the client is usually gone by now
                    self._json(503, {"error": {"message": "no answer scripted"}})
                return None
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            reasoned = False
            for chunk in _stream(behaviour.answers.pop(0)):
                delta = chunk["choices"][0]["delta"] if chunk.get("choices") else {}
                if reasoned and "reasoning_content" not in delta and behaviour.pause_after_reasoning:
                    behaviour.pause_after_reasoning.wait(60)
                reasoned = "reasoning_content" in delta
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


@contextmanager
def fake_openai_server(behaviour: Behaviour) -> Iterator[str]:
    """Serve on a free port of 127.0.0.1; yields the base URL (…/v1)."""
    with LocalHttpServer(_handler(behaviour)) as server:
        yield f"{server.url}/v1"
