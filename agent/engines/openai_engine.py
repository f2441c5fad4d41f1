"""The `openai` engine: any OpenAI-compatible chat server (vllm serve, SGLang, llama.cpp, Ollama).

At start it asks `/v1/models` which model is served and, where the server says (vLLM does), its
context length. Tool calls are taken natively when the server parses them; when it returns
Qwen3 XML as text instead (no tool parser configured), the text goes through `parse_turn`, the
parser the other engines use. A server that refuses `tools` outright is asked again in text mode
(tools still rendered by its chat template, calls parsed by us), and remembered.

Extras only some servers know (`chat_template_kwargs`, `thinking_token_budget`) are dropped for
good the first time a server refuses them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qcode.agent.contracts import Channel, Message, TokenCallback, ToolCall, Turn, Usage
from qcode.agent.engines.chat import for_openai
from qcode.agent.engines.control_tokens import break_control_strings
from qcode.agent.engines.errors import ContextLengthExceeded
from qcode.agent.engines.sampling import resolve_sampling
from qcode.agent.engines.stream_split import StreamSplitter
from qcode.agent.exceptions import EngineError, UserError

if TYPE_CHECKING:
    from qcode.config import Settings
from qcode.agent.qwen_xml import parse_turn

__all__ = ["OpenAIEngine"]

_CONTEXT_SIGNS = (
    "maximum context length",
    "context length",
    "context_length_exceeded",
    "too many tokens",
    "exceeds the context",
    "longer than the maximum",
)
_TOOL_REFUSAL_SIGNS = ("tool", "function")


class OpenAIEngine:
    """`Engine` over an OpenAI-compatible server, probed once at start."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        import openai

        self.base_url = settings.openai_base_url
        self._client = client or openai.OpenAI(
            base_url=self.base_url,
            max_retries=1,
            timeout=600.0,
            api_key=settings.openai_api_key.get_secret_value(),
        )
        self.thinking, self.budget = bool(settings.thinking), int(settings.thinking_budget)
        self.preserve_thinking = bool(settings.preserve_thinking)
        self.max_turn_tokens: int = int(settings.max_turn_tokens)
        """0 when the server should decide (it refused our max_tokens)."""
        self.model, self.max_model_len, self.notices = self._probe(settings.model)
        if self.max_model_len:  # a server refuses max_tokens beyond its context (vLLM: HTTP 400)
            self.max_turn_tokens = min(self.max_turn_tokens, self.max_model_len // 2)
        self.name = f"openai:{self.model}"
        self.native_tools = True
        self._extras: dict[str, Any] = {
            "chat_template_kwargs": {
                "enable_thinking": self.thinking,
                "preserve_thinking": self.preserve_thinking,
            },
        }
        if self.thinking and self.budget > 0:
            self._extras["thinking_token_budget"] = self.budget
        self._sampling, extras = resolve_sampling(settings)[0].for_openai()
        self._extras.update(extras)  # top_k, presence_penalty: dropped once if the server refuses them

    def _probe(self, wanted: str) -> tuple[str, int | None, list[str]]:
        import openai

        try:
            served = list(self._client.models.list())
        except openai.APIConnectionError:
            raise UserError(
                f"cannot reach an OpenAI-compatible server at {self.base_url}; start one (e.g. "
                f"`vllm serve {wanted}`) or set QCODE_OPENAI_BASE_URL"
            ) from None
        except openai.AuthenticationError:
            raise UserError(
                f"the server at {self.base_url} refused the API key; set QCODE_OPENAI_API_KEY"
            ) from None
        except openai.APIStatusError as err:
            raise UserError(
                f"the server at {self.base_url} answered /models with HTTP {err.status_code}; "
                "is it an OpenAI-compatible endpoint (…/v1)?"
            ) from None
        names = [entry.id for entry in served]
        if wanted in names or not names:
            model, notes = wanted, []
        elif len(names) == 1:
            model, notes = names[0], [f"{self.base_url} serves {names[0]} (not {wanted}); using it"]
        else:
            raise UserError(
                f"{self.base_url} does not serve {wanted}; it serves {', '.join(names)} "
                "(pick one with --model)"
            )
        entry = next((e for e in served if e.id == model), None)
        length = (
            getattr(entry, "max_model_len", None) or (entry.model_extra or {}).get("max_model_len")
            if entry is not None
            else None
        )
        notes.append(
            f"openai engine: {model} at {self.base_url}"
            + (f", context {length} tokens" if length else ", context length not reported")
        )
        return model, int(length) if length else None, notes

    # ------------------------------------------------------------------ the Engine protocol

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        *,
        on_token: TokenCallback | None = None,
    ) -> Turn:
        started = time.monotonic()
        while True:
            try:
                return self._stream(messages, tools, on_token, started)
            except _Retry:
                continue

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ one request

    def _request(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": for_openai(messages, keep_reasoning=self.preserve_thinking),
            "extra_body": dict(self._extras),
            **self._sampling,
        }
        if self.max_turn_tokens:
            request["max_tokens"] = self.max_turn_tokens
        if tools:
            # descriptions and schemas may be an MCP server's (untrusted): the server tokenizes them
            request["tools"] = break_control_strings(list(tools))
            request["tool_choice"] = "auto" if self.native_tools else "none"
        return request

    def _stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        on_token: TokenCallback | None,
        started: float,
    ) -> Turn:
        import openai

        acc = _Accumulator()
        try:
            # closed on any exit, so a caller that stops listening (Esc) also stops the server
            with self._client.chat.completions.create(**self._request(messages, tools)) as chunks:
                for chunk in chunks:
                    pieces = acc.add(chunk)
                    if pieces:
                        acc.first_token = acc.first_token or time.monotonic()
                    for text, channel in pieces if on_token is not None else ():
                        on_token(text, channel)  # type: ignore[misc]  # not narrowed through the if
                for text, channel in acc.answer.flush() if on_token is not None else ():
                    on_token(text, channel)  # type: ignore[misc]
        except openai.BadRequestError as err:
            self._adapt(err, messages)
        except openai.APIConnectionError as err:
            raise EngineError(f"lost the connection to {self.base_url}: {err}") from err
        except openai.APIStatusError as err:
            detail = _message(err)[:300]
            raise EngineError(f"{self.base_url} answered HTTP {err.status_code}: {detail}") from err
        return acc.turn(tools, started)

    def _adapt(self, err: Any, messages: Sequence[Message]) -> None:
        """Learn from a 400: context overflow → the loop's signal; unknown extras or tools → retry."""
        text = _message(err)
        lowered = text.lower()
        if any(sign in lowered for sign in _CONTEXT_SIGNS):
            numbers = [int(n) for n in re.findall(r"\d{3,}", text)]
            limit = self.max_model_len or (min(numbers) if numbers else 0)
            prompt = max(numbers) if numbers else 0
            raise ContextLengthExceeded(prompt, limit, 0) from err
        if "max_tokens" in text and self.max_turn_tokens:
            self.max_turn_tokens = 0
            self.notices.append(f"{self.base_url} refused max_tokens ({text[:120]}); the server decides")
            raise _Retry() from err
        for extra in list(self._extras):
            if extra in text:
                del self._extras[extra]
                self.notices.append(f"{self.base_url} does not take {extra}; sending requests without it")
                raise _Retry() from err
        if self.native_tools and any(sign in lowered for sign in _TOOL_REFUSAL_SIGNS):
            self.native_tools = False
            self.notices.append(
                f"{self.base_url} refused native tool calls ({text[:120]}); "
                "reading Qwen3 XML tool calls from the text instead"
            )
            raise _Retry() from err
        raise EngineError(f"{self.base_url} refused the request: {text[:300]}") from err


class _Retry(Exception):
    """The request should be sent again with the adapted settings."""


def _message(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(getattr(err, "message", err))


class _Accumulator:
    """Collects a streamed chat completion: text, reasoning, native tool-call fragments, usage."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.usage = Usage()
        self.finish: str | None = None
        self.first_token: float | None = None
        self.answer = StreamSplitter()
        """Content may hold Qwen's own syntax when the server does not parse it (`<tool_call>`)."""

    def add(self, chunk: Any) -> list[tuple[str, Channel]]:
        """Takes one chunk; returns its streamed pieces by channel."""
        if getattr(chunk, "usage", None):
            details = getattr(chunk.usage, "prompt_tokens_details", None)
            self.usage = Usage(
                prompt_tokens=chunk.usage.prompt_tokens or 0,
                completion_tokens=chunk.usage.completion_tokens or 0,
                cached_tokens=(getattr(details, "cached_tokens", 0) or 0) if details else 0,
            )
        if not chunk.choices:
            return []
        choice = chunk.choices[0]
        self.finish = choice.finish_reason or self.finish
        delta = choice.delta
        extra = delta.model_extra or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
        self.reasoning.append(reasoning)
        self.content.append(delta.content or "")
        for fragment in delta.tool_calls or []:
            call = self.calls.setdefault(fragment.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = fragment.id or call["id"]
            if fragment.function is not None:
                call["name"] += fragment.function.name or ""
                call["arguments"] += fragment.function.arguments or ""
        pieces: list[tuple[str, Channel]] = [(reasoning, "reasoning")] if reasoning else []
        return pieces + self.answer.feed(delta.content or "")

    def turn(self, tools: Sequence[dict[str, Any]], started: float) -> Turn:
        content, reasoning = "".join(self.content), "".join(self.reasoning)
        raw = (f"<think>\n{reasoning}\n</think>\n\n" if reasoning else "") + content
        parsed = parse_turn(raw, tools)
        calls = list(parsed.tool_calls)
        for index in sorted(self.calls):
            calls.append(_native_call(self.calls[index], len(calls)))
        if self.first_token is None:
            ttft = None
        else:
            ttft = self.first_token - started
        return Turn(
            text=parsed.text,
            reasoning=parsed.reasoning,
            tool_calls=calls,
            # native calls are not in the text: a raw without them would render a turn without its
            # calls when the history is replayed verbatim (e.g. resumed on the vllm engine)
            raw=None if self.calls else raw,
            usage=self.usage,
            time_to_first_token=ttft,
            duration=time.monotonic() - started,
            finish_reason=self.finish,
        )


def _native_call(call: dict[str, Any], index: int) -> ToolCall:
    call_id = call["id"] or f"call_{index}"
    try:
        arguments = json.loads(call["arguments"] or "{}")
    except ValueError:
        return ToolCall(
            id=call_id,
            name=call["name"],
            problem=(
                f"The arguments of your `{call['name']}` call are not valid JSON: "
                f"{call['arguments'][:120]!r}. "
                "Nothing was run; send the call again with a JSON object of arguments."
            ),
        )
    if not isinstance(arguments, dict):
        return ToolCall(
            id=call_id, name=call["name"], problem="The tool-call arguments must be a JSON object."
        )
    return ToolCall(id=call_id, name=call["name"], arguments=arguments)
