"""A tiny random-weight Qwen3 model folder for exercising the real vLLM engine on CPU.

The model knows nothing; what matters is that every part around it is real: a byte-level BPE
tokenizer trained on local text with Qwen's special tokens, a Qwen3-style chat template that
renders tools and XML tool calls (with `enable_thinking` and `preserve_thinking`), and
safetensors weights in the plain `Qwen3ForCausalLM` architecture (the Qwen3.6 hybrid one does
not run on vLLM's CPU backend). Building takes a few seconds; no network is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "build_tiny_qwen3",
    "cached_tiny_qwen3",
    "render_chat",
    "CHAT_TEMPLATE",
    "SPECIAL_TOKENS",
    "TEXT_TOKENS",
]

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
"""Control tokens: dropped when decoding with skip_special_tokens."""
TEXT_TOKENS = ["<tool_call>", "</tool_call>", "<think>", "</think>", "<tool_response>", "</tool_response>"]
"""Single tokens that stay in the decoded text (as in Qwen's own tokenizer)."""
VOCAB_SIZE = 2048
MARKER = "qcode-tiny.json"
SEED = 1234

# Written from the published Qwen3.6 interface's documented behaviour (issue 12), not copied: the
# tool list first in the system turn, then an <IMPORTANT> reminder, then the system prompt; tool
# results trimmed and grouped by position into one user turn (no call ids); non-string arguments
# written with `tojson`; an empty think block for turns without reasoning under
# `preserve_thinking`; and the template's three refusals (a late system message, a `developer`
# role, no plain user message). Tests render histories through it to see what the real model sees.
CHAT_TEMPLATE = r"""
{%- set preserve = preserve_thinking is defined and preserve_thinking -%}
{%- set ns = namespace(last_query=-1) -%}
{%- for m in messages -%}
  {%- if m.role == 'system' and not loop.first -%}
    {{- raise_exception('System message must be at the beginning.') -}}
  {%- endif -%}
  {%- if m.role not in ('system', 'user', 'assistant', 'tool') -%}
    {{- raise_exception('Unexpected message role: ' + m.role) -}}
  {%- endif -%}
  {%- if m.role == 'user' and m.content is string -%}
    {%- if not (m.content.startswith('<tool_response>') and m.content.endswith('</tool_response>')) -%}
      {%- set ns.last_query = loop.index0 -%}
    {%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if ns.last_query < 0 -%}{{- raise_exception('No user query found in messages.') -}}{%- endif -%}
{%- if tools -%}
  {{- '<|im_start|>system\n# Tools\n\nYou have access to the following functions:\n\n<tools>' -}}
  {%- for tool in tools -%}{{- '\n' + (tool | tojson) -}}{%- endfor -%}
  {{- '\n</tools>\n\nIf you choose to call a function ONLY reply in the following format ' -}}
  {{- 'with NO suffix:\n\n' -}}
  {{- '<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n' -}}
  {{- '</parameter>\n<parameter=example_parameter_2>\nThis is the value for the second parameter\n' -}}
  {{- 'that can span\nmultiple lines\n</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\nReminder:\n' -}}
  {{- '- Function calls MUST follow the specified format: an inner <function=...></function> block ' -}}
  {{- 'must be nested within <tool_call></tool_call> XML tags\n- Required parameters MUST be specified\n' -}}
  {{- '- You may provide optional reasoning for your function call in natural language BEFORE the ' -}}
  {{- 'function call, but NOT after\n</IMPORTANT>' -}}
  {%- if messages[0].role == 'system' and messages[0].content | trim -%}
    {{- '\n\n' + (messages[0].content | trim) -}}
  {%- endif -%}
  {{- '<|im_end|>\n' -}}
{%- elif messages[0].role == 'system' -%}
  {{- '<|im_start|>system\n' + (messages[0].content | trim) + '<|im_end|>\n' -}}
{%- endif -%}
{%- for m in messages -%}
  {%- set content = m.content if m.content is string else '' -%}
  {%- if m.role == 'user' -%}
    {{- '<|im_start|>user\n' + content + '<|im_end|>\n' -}}
  {%- elif m.role == 'assistant' -%}
    {%- set reasoning = m.reasoning_content if m.reasoning_content is string else '' -%}
    {%- if m.reasoning_content is not string and '</think>' in content -%}
      {%- set reasoning = content.split('</think>')[0].split('<think>')[-1] -%}
      {%- set content = content.split('</think>')[-1].lstrip('\n') -%}
    {%- endif -%}
    {%- if preserve or loop.index0 > ns.last_query -%}
      {{- '<|im_start|>assistant\n<think>\n' + (reasoning | trim) + '\n</think>\n\n' + content -}}
    {%- else -%}
      {{- '<|im_start|>assistant\n' + content -}}
    {%- endif -%}
    {%- for call in m.tool_calls or [] -%}
      {%- set f = call.function if call.function is defined else call -%}
      {%- if not loop.first -%}{{- '\n' -}}{%- elif content | trim -%}{{- '\n\n' -}}{%- endif -%}
      {{- '<tool_call>\n<function=' + f.name + '>\n' -}}
      {%- if f.arguments is mapping -%}
        {%- for key, value in f.arguments.items() -%}
          {{- '<parameter=' + key + '>\n' -}}
          {{- value if value is string else value | tojson -}}
          {{- '\n</parameter>\n' -}}
        {%- endfor -%}
      {%- endif -%}
      {{- '</function>\n</tool_call>' -}}
    {%- endfor -%}
    {{- '<|im_end|>\n' -}}
  {%- elif m.role == 'tool' -%}
    {%- if loop.first or loop.previtem.role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
    {{- '\n<tool_response>\n' + (content | trim) + '\n</tool_response>' -}}
    {%- if loop.last or loop.nextitem.role != 'tool' -%}{{- '<|im_end|>\n' -}}{%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
  {%- if enable_thinking is defined and not enable_thinking -%}{{- '<think>\n\n</think>\n\n' -}}
  {%- else -%}{{- '<think>\n' -}}{%- endif -%}
{%- endif -%}
"""


def render_chat(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    enable_thinking: bool = True,
    preserve_thinking: bool = True,
) -> str:
    """Render through CHAT_TEMPLATE with transformers' own Jinja environment (no model, no tokenizer)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(
        conversations=[messages],
        tools=tools or None,
        chat_template=CHAT_TEMPLATE.strip("\n"),
        add_generation_prompt=add_generation_prompt,
        enable_thinking=enable_thinking,
        preserve_thinking=preserve_thinking,
    )
    return str(rendered[0])


def _corpus(repo_root: Path, limit_files: int = 400) -> Iterator[str]:
    """Local text to train on: qcode's own sources, then part of the Python stdlib."""
    call = (
        "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>\n</tool_call>\n"
    )
    yield call * 50
    sources = sorted(repo_root.glob("**/*.py")) + sorted(repo_root.glob("**/*.md"))
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    for path in [*sources, *stdlib][:limit_files]:
        try:
            yield path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue


def _train_tokenizer(repo_root: Path) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AddedToken, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(repo_root), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=32768
    )
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    fast.add_tokens([AddedToken(t, special=False, normalized=False) for t in TEXT_TOKENS])
    fast.chat_template = CHAT_TEMPLATE.strip("\n")
    return fast


def build_tiny_qwen3(
    folder: Path, *, hidden_size: int = 128, layers: int = 2, max_positions: int = 32768
) -> Path:
    """Write a loadable Qwen3ForCausalLM folder (config, tokenizer, template, weights) and return it.

    Reuses a finished build in `folder` (one with the marker file).
    """
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    folder = Path(folder)
    if (folder / MARKER).is_file():
        return folder
    # Build beside the target and rename, so concurrent builders never see a half-written folder.
    staging = folder.with_name(f"{folder.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    tokenizer = _train_tokenizer(Path(__file__).resolve().parents[1])
    tokenizer.save_pretrained(staging)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        eos_token_id=eos,
        bos_token_id=pad,
        pad_token_id=pad,
        dtype="float32",
    )
    torch.manual_seed(SEED)
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
    model.save_pretrained(staging, safe_serialization=True)
    (staging / MARKER).write_text(json.dumps({"seed": SEED, "vocab": len(tokenizer)}))
    try:
        staging.rename(folder)
    except OSError:  # another process finished first (or the folder exists half-made): keep theirs
        shutil.rmtree(staging, ignore_errors=True)
        if not (folder / MARKER).is_file():
            raise
    return folder


def cached_tiny_qwen3() -> Path:
    """The tiny model in a cache folder keyed by this builder's source (a changed builder → a new model).

    `QCODE_TEST_MODELS` moves the cache (default `~/.cache/qcode/test-models`).
    """
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    root = Path(os.environ.get("QCODE_TEST_MODELS") or Path.home() / ".cache" / "qcode" / "test-models")
    return build_tiny_qwen3(root / f"tiny-qwen3-{key}")


if __name__ == "__main__":
    print(build_tiny_qwen3(Path(sys.argv[1])) if len(sys.argv) > 1 else cached_tiny_qwen3())
