"""Streamed output is split by channel in the engine, so no front door parses the model's tags."""

from __future__ import annotations

import random

from qcode.agent.engines.stream_split import StreamSplitter

RAW = "<think>\nThe bug is in total().\n</think>\n\nFixing it.<tool_call>\n<function=edit_file>\n</tool_call>"


def _split(pieces: list[str], channel: str = "text") -> list[tuple[str, str]]:
    splitter = StreamSplitter(channel)  # type: ignore[arg-type]
    out = [piece for text in pieces for piece in splitter.feed(text)] + splitter.flush()
    merged: list[tuple[str, str]] = []
    for text, chan in out:
        if merged and merged[-1][1] == chan:
            merged[-1] = (merged[-1][0] + text, chan)
        else:
            merged.append((text, chan))
    return merged


EXPECTED = [
    ("\nThe bug is in total().\n", "reasoning"),
    ("\n\nFixing it.", "text"),
    ("\n<function=edit_file>\n", "tool_call"),
]


def test_whole_output_splits_into_channels_without_tags() -> None:
    assert _split([RAW]) == EXPECTED


def test_tags_cut_anywhere_between_pieces_never_leak() -> None:
    rng = random.Random(7)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(RAW)), rng.randint(1, 30)))
        pieces = [RAW[a:b] for a, b in zip([0, *cuts], [*cuts, len(RAW)], strict=True)]
        assert _split(pieces) == EXPECTED, pieces


def test_a_lone_close_tag_ends_template_opened_reasoning_and_unfinished_tags_flush() -> None:
    assert _split(["opened by the template</think>Done."], "reasoning") == [
        ("opened by the template", "reasoning"),
        ("Done.", "text"),
    ]
    assert _split(["a < b and <tool"]) == [("a < b and <tool", "text")]
