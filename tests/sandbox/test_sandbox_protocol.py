"""The persistent-shell protocol's pure pieces, without Docker."""

from __future__ import annotations

import struct
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from qcode.sandbox.shell import (
    FrameDecoder,
    HeadTailBuffer,
    MarkerScanner,
    encode_command,
    omission_note,
)

MARK = "__qcode_0123456789abcdef_7__"


def frame(payload: bytes, stream: int = 1) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def test_encoded_commands_run_verbatim_in_bash() -> None:
    tricky = [
        "echo 'single' \"double\" `echo back` $((1+2))",
        "printf '%s\\n' a\\\\b 'c\\'",
        "cat <<'EOF'\nline one\n  $NOT_EXPANDED\nEOF",
        'x=\'tab\there\'; echo "$x"; echo "carriage\rreturn" | od -c | head -1',
        "echo héllo wörld ✓; echo $'\\x41'",
        "echo no-newline-at-end",
    ]
    script = b"".join(encode_command(cmd, MARK) for cmd in tricky)
    out = subprocess.run(
        ["bash", "--noprofile", "--norc"], input=script, capture_output=True, check=True
    ).stdout
    got = out.decode().split(f"\n{MARK} 0\n")
    direct = [
        subprocess.run(["bash", "-c", cmd], capture_output=True, check=True).stdout.decode() for cmd in tricky
    ]
    assert got[:-1] == direct
    assert got[-1] == ""


def test_encoded_command_reports_exit_status_and_gets_eof_on_stdin() -> None:
    script = encode_command("read line; echo read=$?; cat; exit_status() { return 7; }", MARK)
    script += encode_command("exit_status", MARK)
    out = subprocess.run(
        ["bash", "--noprofile", "--norc"], input=script + b"leftover stdin\n", capture_output=True
    ).stdout.decode()
    assert out == f"read=1\n\n{MARK} 0\n\n{MARK} 7\n"


@pytest.mark.slow
@given(st.lists(st.binary(max_size=50), max_size=8), st.lists(st.integers(0, 10_000)))
def test_frame_decoder_reassembles_any_split(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p, stream=1 + i % 2) for i, p in enumerate(payloads))
    decoder = FrameDecoder()
    got = b"".join(b"".join(decoder.feed(piece)) for piece in split(stream, cuts))
    assert got == b"".join(payloads)


@pytest.mark.slow
@given(st.binary(max_size=200), st.integers(-255, 255), st.lists(st.integers(0, 10_000)))
def test_marker_scanner_finds_marker_across_any_split(body: bytes, code: int, cuts: list[int]) -> None:
    stream = body + f"\n{MARK} {code}\n".encode() + b"after"
    scanner = MarkerScanner(MARK)
    out = b""
    for piece in split(stream, cuts):
        if scanner.done:
            break
        out += scanner.feed(piece)
    assert scanner.done
    assert out == body
    assert scanner.exit_code == code


def test_marker_scanner_ignores_other_markers_and_keeps_the_rest() -> None:
    scanner = MarkerScanner(MARK)
    stale = "\n__qcode_0123456789abcdef_6__ 0\n"
    out = scanner.feed(stale.encode() + b"x")
    assert not scanner.done
    out += scanner.feed(f"\n{MARK} 3\nbackground".encode())
    assert out == stale.encode() + b"x"
    assert (scanner.done, scanner.exit_code, scanner.rest) == (True, 3, b"background")


def test_marker_scanner_flush_returns_held_back_bytes() -> None:
    scanner = MarkerScanner(MARK)
    assert scanner.feed(b"short") == b""
    assert scanner.flush() == b"short"


def test_head_tail_buffer_keeps_small_output_whole() -> None:
    buf = HeadTailBuffer(100)
    for part in ["abc", "", "déf\n" * 10]:
        buf.write(part)
    assert buf.getvalue() == "abc" + "déf\n" * 10
    assert not buf.truncated


@pytest.mark.slow
@given(st.lists(st.text(max_size=300), max_size=30), st.integers(2, 200))
def test_head_tail_buffer_matches_reference(parts: list[str], limit: int) -> None:
    buf = HeadTailBuffer(limit)
    for part in parts:
        buf.write(part)
    whole = "".join(parts)
    head, tail = limit // 2, limit - limit // 2
    if len(whole) <= limit:
        assert buf.getvalue() == whole and not buf.truncated
    else:
        omitted = len(whole) - head - tail
        expected = whole[:head] + omission_note(omitted) + whole[len(whole) - tail :]
        assert buf.getvalue() == expected and buf.truncated


def test_head_tail_buffer_decodes_utf8_split_between_chunks() -> None:
    buf = HeadTailBuffer(1000)
    data = "née ✓".encode()
    for i in range(len(data)):
        buf.write_bytes(data[i : i + 1])
    assert buf.getvalue() == "née ✓"


def test_omission_note_groups_digits() -> None:
    assert omission_note(9_950_000) == "\n[... 9,950,000 characters omitted ...]\n"
