"""The embedded engine: vLLM's AsyncLLM in-process, serving Qwen3.6 (or any Qwen3-style model).

One engine, many callers: `complete` is synchronous and thread-safe; each call becomes a request
on vLLM's async engine, which runs on a background event-loop thread, so several sessions (TUI
tabs, bot runners) batch on one GPU and share its prefix cache.

A turn is generated in at most two requests, both against the same token prefix:

1. reasoning (thinking on): free text up to `thinking_budget` tokens, stopped at `</think>`;
   past the budget the engine closes `</think>` itself;
2. the answer: constrained by the tool-call grammar (`vllm_grammar`), so every `<tool_call>`
   names a real tool with schema-valid arguments, while text stays free.

The prompt is the model's own chat template (tools, `enable_thinking`, `preserve_thinking`);
the output goes through `qcode.agent.qwen_xml.parse_turn`, the parser the replay engine uses.
"""

from __future__ import annotations

import atexit
import queue
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from qcode.agent.contracts import Message, TokenCallback, Turn, Usage
from qcode.agent.engines.control_tokens import control_strings
from qcode.agent.engines.errors import ContextLengthExceeded
from qcode.agent.engines.prompt import render_prompt
from qcode.agent.engines.sampling import PROFILES, Sampling, resolve_sampling
from qcode.agent.engines.stream_split import StreamSplitter
from qcode.agent.engines.vllm_grammar import MAX_ARGUMENT_CAP, ToolChoice, structural_tag
from qcode.agent.engines.vllm_setup import EnginePlan, classify_start_failure, plan_engine, require_vllm
from qcode.agent.exceptions import EngineError, UserError
from qcode.agent.loop_thread import LoopThread

if TYPE_CHECKING:
    from qcode.config import Settings
from qcode.agent.qwen_xml import parse_turn

__all__ = ["EngineOptions", "VllmEngine"]

THINK_CLOSE = "</think>"
ANSWER_RESERVE = 256
"""Tokens kept free for the answer when checking that a prompt fits the context."""


@dataclass
class EngineOptions:
    """Per-engine generation options, read once from the settings."""

    thinking: bool = True
    thinking_budget: int = 8192
    preserve_thinking: bool = True
    """Keep past reasoning in the history (stable prefix → prefix-cache hits every step)."""
    constrained: bool = True
    tool_choice: ToolChoice = "auto"
    max_argument_chars: int | None = None
    max_turn_tokens: int = 16384
    seed: int | None = None
    sampling: Sampling = field(default_factory=lambda: PROFILES["coding"])
    """Temperature, top_p, top_k, presence_penalty (a model-card profile plus overrides)."""
    allowed_tools: tuple[str, ...] | None = None
    """Only these tools may be called (the prompt still shows all): e.g. a read-only mode."""

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineOptions:
        choice = settings.tool_choice
        if choice not in ("auto", "required"):
            raise UserError(f"tool_choice must be auto or required, not {choice!r}")
        cap = settings.max_argument_chars
        if cap is not None and not 1 <= cap <= MAX_ARGUMENT_CAP:
            raise UserError(
                f"max_argument_chars must be 1…{MAX_ARGUMENT_CAP} (a guard for untrained "
                f"models), not {cap}; leave it unset for real models"
            )
        return cls(
            thinking=bool(settings.thinking),
            thinking_budget=int(settings.thinking_budget),
            preserve_thinking=bool(settings.preserve_thinking),
            constrained=bool(settings.constrained_tool_calls),
            tool_choice=choice,
            max_argument_chars=cap,
            max_turn_tokens=int(settings.max_turn_tokens),
            seed=settings.seed,
            sampling=resolve_sampling(settings)[0],
            allowed_tools=_names(settings.allowed_tools),
        )

    def to_wire(self) -> dict[str, Any]:
        """Plain JSON for the warm engine's socket (`from_wire` reads it back, validated)."""
        return {**asdict(self), "sampling": self.sampling.model_dump()}

    @classmethod
    def from_wire(cls, data: Any) -> EngineOptions:
        """Options a client sent, type-checked and bounded like the settings they came from."""
        from pydantic import TypeAdapter, ValidationError

        try:
            options = TypeAdapter(cls).validate_python(data)
        except ValidationError as err:
            raise UserError(f"bad engine options: {err.errors()[0]['msg']}") from None
        cap = options.max_argument_chars
        if (
            options.thinking_budget < 0
            or options.max_turn_tokens < 1
            or (cap is not None and not 1 <= cap <= MAX_ARGUMENT_CAP)
        ):
            raise UserError("bad engine options: a budget or cap is out of range")
        return options


@dataclass
class _Stream:
    """What one turn has produced so far (filled on the loop thread, read after it ends)."""

    out: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    answer: StreamSplitter = field(default_factory=StreamSplitter)
    """Splits the answer's text from its tool calls; the reasoning request streams as reasoning."""
    first_token: float | None = None
    request_ids: list[str] = field(default_factory=list)


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else list(value)
    return tuple(name.strip() for name in names if name.strip()) or None


class VllmEngine:
    """`Engine` over an in-process vLLM AsyncLLM. Build once, share between sessions, `close()` at exit."""

    def __init__(self, settings: Settings, options: EngineOptions | None = None) -> None:
        device = require_vllm()
        self.plan: EnginePlan = plan_engine(settings, device)
        self.options = options or EngineOptions.from_settings(settings)
        self.name = f"vllm:{self.plan.choice.model}"
        self.notices: list[str] = [self.plan.choice.reason, *self.plan.notices]
        """One-line facts for the session to show (which weights and why)."""
        self._runner = LoopThread()
        try:
            self._llm = self._runner.run(self._start())
        except BaseException:
            self._runner.close()
            raise
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.plan.engine_kwargs["model"])
        self._think_close = self.tokenizer.convert_tokens_to_ids(THINK_CLOSE)
        self._controls = control_strings(self.tokenizer)
        self._defaults = {
            k: v
            for k, v in self._llm.model_config.get_diff_sampling_param().items()
            if k not in ("max_new_tokens", "max_tokens")
        }
        self._closed = False
        # A process that never calls close() must still exit: multiprocessing's exit hook would
        # otherwise wait forever for vLLM's engine process. atexit runs this first (LIFO).
        atexit.register(self.close)

    async def _start(self) -> Any:
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        try:
            return AsyncLLM.from_engine_args(AsyncEngineArgs(**self.plan.engine_kwargs))
        except Exception as err:
            raise classify_start_failure(err, self.plan) from err

    @property
    def max_model_len(self) -> int:
        return self.plan.max_model_len

    # ------------------------------------------------------------------ the Engine protocol

    def render(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        options: EngineOptions | None = None,
    ) -> list[int]:
        """The prompt's token ids (`prompt.render_prompt`: the model's own chat template, past
        turns as generated, control-token strings in any text tokenized as text)."""
        opts = options or self.options
        return render_prompt(
            self.tokenizer,
            messages,
            tools,
            thinking=opts.thinking,
            preserve_thinking=opts.preserve_thinking,
            controls=self._controls,
        )

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        *,
        on_token: TokenCallback | None = None,
        tool_choice: ToolChoice | None = None,
        options: EngineOptions | None = None,
    ) -> Turn:
        """One turn. `options` are this request's (a warm engine serves sessions with different
        settings); None uses the engine's own, read from its settings."""
        if self._closed:
            raise EngineError("the vllm engine is closed")
        started = time.monotonic()
        opts = options or self.options
        if tool_choice is not None:
            opts = replace(opts, tool_choice=tool_choice)
        prompt = self.render(messages, tools, opts)
        if len(prompt) + ANSWER_RESERVE > self.max_model_len:
            raise ContextLengthExceeded(len(prompt), self.max_model_len, ANSWER_RESERVE)
        stream = _Stream()
        future = self._runner.submit(self._turn(prompt, tools, opts, stream))
        future.add_done_callback(lambda _: stream.out.put(("done", None)))
        try:
            while (item := stream.out.get())[0] == "token":
                if on_token is not None:
                    on_token(*item[1])
        except BaseException:
            self._abort(stream, future)
            raise
        raw, usage, finish = future.result()
        parsed = parse_turn(raw, tools)
        ttft = None if stream.first_token is None else stream.first_token - started
        return Turn(
            text=parsed.text,
            reasoning=parsed.reasoning,
            tool_calls=parsed.tool_calls,
            raw=raw,
            usage=usage,
            time_to_first_token=ttft,
            duration=time.monotonic() - started,
            finish_reason=finish,
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            self._runner.run(self._shutdown())
        finally:
            self._runner.close()

    async def _shutdown(self) -> None:
        """Stop vLLM on its own loop, so its output task ends there and nothing is left for `__del__`."""
        llm, self._llm = self._llm, None
        llm.shutdown()
        del llm

    # ------------------------------------------------------------------ generation (loop thread)

    async def _turn(
        self, prompt: list[int], tools: Sequence[dict[str, Any]], opts: EngineOptions, stream: _Stream
    ) -> tuple[str, Usage, str | None]:
        usage = Usage(prompt_tokens=len(prompt))
        raw, ids = "", list(prompt)
        reasoned = opts.thinking and opts.thinking_budget > 0
        if opts.thinking:
            reasoning, reasoning_ids, cached = await self._reason(ids, opts, stream)
            usage.cached_tokens = cached  # the turn's prompt is the reasoning request's prompt
            usage.completion_tokens += len(reasoning_ids)
            # The answer continues from the reasoning as the chat template will render it back
            # (trimmed, then `\n</think>\n\n`), so the next step's prompt extends this one.
            close = "\n" + THINK_CLOSE + "\n\n"
            raw = reasoning.strip() + close
            if reasoning != reasoning.strip():
                reasoning_ids = self._encode_text(reasoning.strip())
            ids += reasoning_ids + list(self.tokenizer.encode(close, add_special_tokens=False))
        budget = min(opts.max_turn_tokens, self.max_model_len - len(ids))
        if budget <= 0:
            return raw, usage, "length"
        params = self._params(budget, tools, opts)
        answer, answer_ids, cached, finish = await self._generate(ids, params, stream)
        if not reasoned:
            usage.cached_tokens = cached
        usage.completion_tokens += len(answer_ids)
        return raw + answer, usage, finish

    async def _reason(
        self, prompt: list[int], opts: EngineOptions, stream: _Stream
    ) -> tuple[str, list[int], int]:
        """Free reasoning up to the budget; returns its text (without `</think>`) and token ids."""
        from vllm import SamplingParams

        if opts.thinking_budget <= 0:
            return "", [], 0
        close_id = self._think_close
        stop_ids: list[int] = [close_id] if isinstance(close_id, int) and close_id >= 0 else []
        params = SamplingParams(
            **self._sampling(opts.thinking_budget, opts), stop=[THINK_CLOSE], stop_token_ids=stop_ids
        )
        text, ids, cached, _ = await self._generate(prompt, params, stream, reasoning=True)
        eos = {self._think_close, self.tokenizer.eos_token_id}
        while ids and ids[-1] in eos:
            ids.pop()
        if THINK_CLOSE in self.tokenizer.decode(ids[-4:]):
            # `</think>` arrived as several ordinary tokens (a stop string): re-encode the text.
            ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        return text, ids, cached

    def _params(self, max_tokens: int, tools: Sequence[dict[str, Any]], opts: EngineOptions) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        constraint = None
        if opts.allowed_tools is not None:
            allowed = set(opts.allowed_tools)
            tools = [t for t in tools if t.get("function", t).get("name") in allowed]
            if not tools:
                raise EngineError(f"allowed_tools ({', '.join(sorted(allowed))}) names none of the tools")
        if opts.constrained and tools:
            spec = structural_tag(tools, opts.tool_choice, opts.max_argument_chars)
            constraint = StructuredOutputsParams(structural_tag=spec)
        return SamplingParams(**self._sampling(max_tokens, opts), structured_outputs=constraint)

    def _sampling(self, max_tokens: int, opts: EngineOptions) -> dict[str, Any]:
        from vllm.sampling_params import RequestOutputKind

        # Per-request seeds break vLLM's CPU worker when a prompt is prefilled in chunks ("CPU
        # Generator does not use offset"); on CPU the seed goes to the engine (see plan_engine).
        seed = opts.seed if self.plan.device != "cpu" else None
        return {
            **self._defaults,
            **opts.sampling.for_vllm(),
            "max_tokens": max_tokens,
            "seed": seed,
            "output_kind": RequestOutputKind.DELTA,
        }

    async def _generate(
        self, prompt: list[int], params: Any, stream: _Stream, *, reasoning: bool = False
    ) -> tuple[str, list[int], int, str | None]:
        """One request; streams text deltas; returns (text, token ids, cached prompt tokens, finish)."""
        request_id = f"qcode-{uuid.uuid4().hex[:12]}"
        stream.request_ids.append(request_id)
        text, ids, cached, finish = "", [], 0, None
        try:
            request = self._llm.generate({"prompt_token_ids": prompt}, params, request_id=request_id)
            async for output in request:
                completion = output.outputs[0]
                ids += list(completion.token_ids)
                if completion.text:
                    text += completion.text
                    self._emit(stream, completion.text, reasoning)
                cached = output.num_cached_tokens or cached
                finish = completion.finish_reason or finish
        except Exception as err:
            if "maximum context length" in str(err) or "longer than the maximum model length" in str(err):
                raise ContextLengthExceeded(len(prompt), self.max_model_len, 0) from err
            raise EngineError(f"vLLM failed on a request: {err}") from err
        if not reasoning:
            for piece, channel in stream.answer.flush():
                stream.out.put(("token", (piece, channel)))
        if finish in (None, "abort"):
            raise EngineError(
                "vLLM aborted the request (for example, the tool-call grammar did not "
                "compile); its log above says why"
            )
        return text, ids, cached, finish

    def _encode_text(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True))

    def _emit(self, stream: _Stream, text: str, reasoning: bool) -> None:
        if stream.first_token is None:
            stream.first_token = time.monotonic()
        pieces = [(text, "reasoning")] if reasoning else stream.answer.feed(text)
        for piece in pieces:
            stream.out.put(("token", piece))

    def _abort(self, stream: _Stream, future: Any) -> None:
        """Stop generating for a caller that stopped listening (Esc, a time limit); returns once
        vLLM has dropped the request, so the next turn does not queue behind it."""
        future.cancel()
        for request_id in stream.request_ids:
            self._runner.run(self._llm.abort(request_id))

    @property
    def requests_in_flight(self) -> int:
        """Requests vLLM is still generating (all sessions sharing this engine)."""
        return 0 if self._llm is None else self._llm.get_num_unfinished_requests()
