"""Tolerant `old_text` → `new_text` replacement: a pure algorithm, no I/O.

Strategies, in order: exact substring; whitespace-insensitive lines; a bounded fuzzy line-block
match (rapidfuzz) that allows `...` for skipped lines, blank-line differences and stale lines.
When the match is approximate we merge the *change* old_text → new_text into the file's real
lines, so the file keeps its own indentation and every line the model did not mean to change.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from qcode.agent.exceptions import ToolError
from rapidfuzz import fuzz, process

__all__ = ["EditError", "EditResult", "apply_edit"]

Strategy = Literal["exact", "whitespace", "fuzzy"]

TAB_WIDTH = 4
MIN_SCORE = 80.0  # fuzzy acceptance (rapidfuzz ratio, 0-100) for blocks of 3+ lines
MIN_SCORE_SHORT = 90.0  # one- or two-line blocks carry little evidence, so ask for more
MARGIN = 4.0  # the winner must beat any other place by this much
DRIFT = 2  # lines the fuzzy window may grow, shrink or shift (stale / missing lines)
TOP_WINDOWS = 200  # windows per segment ranked in full
LOOKAHEAD = 1000  # lines a `...` may skip
MAX_FUZZY_LINES = 400  # beyond this, fuzzy matching is too slow and too risky
STALE_LINES = 2  # lines of old_text that may differ from the file (it saw an older version)
PAIR_SCORE = 60.0  # two lines this similar are "the same line, edited"
ELLIPSES = {"...", "…", "# ...", "// ...", "/* ... */", "<!-- ... -->"}


class EditError(ToolError):
    """An edit that could not be applied; `str()` tells the model what to send next."""


@dataclass(frozen=True)
class EditResult:
    new_content: str
    strategy: Strategy
    start_line: int  # 1-based first line that differs in the new content
    count: int  # replacements made


@dataclass
class _Match:
    """A file block [start, end) and which old_text line sits on which file line."""

    start: int
    end: int
    score: float = 100.0
    pairs: dict[int, int] = field(default_factory=dict)


def apply_edit(content: str, old_text: str, new_text: str, replace_all: bool = False) -> EditResult:
    """Replace old_text with new_text in content, tolerating the usual model drift."""
    if not old_text.strip():
        raise EditError(
            "old_text is empty. To create or overwrite a whole file use write_file; "
            "to insert text, put the neighbouring lines in old_text and new_text."
        )
    old_text, new_text = _same_final_newline(_lf(old_text), _lf(new_text))
    if old_text == new_text:
        raise EditError("old_text and new_text are identical, so there is nothing to change.")
    crlf = "\r\n" in content and content.count("\r\n") == content.count("\n")
    text = content.replace("\r\n", "\n") if crlf else content
    new, strategy, count = _apply(text, old_text, new_text, replace_all)
    if new == text:
        raise EditError(
            f"the edit matched ({strategy}) but leaves the file unchanged: the difference "
            "between old_text and new_text is only whitespace the file does not have."
        )
    start_line = _first_difference(text, new)
    if crlf:
        new = new.replace("\n", "\r\n")
    return EditResult(new, strategy, start_line, count)


def _apply(text: str, old: str, new: str, replace_all: bool) -> tuple[str, Strategy, int]:
    hits = _exact_offsets(text, old)
    if len(hits) > 1 and not replace_all:
        lines = ", ".join(str(text.count("\n", 0, h) + 1) for h in hits)
        raise EditError(
            f"old_text occurs {len(hits)} times (starting at lines {lines}). Add surrounding "
            "lines to old_text so it matches one place, or set replace_all=true to change all."
        )
    if hits:
        if len(hits) == 1:
            _refuse_if_contains(text, new, hits[0], hits[0] + len(old))
        return text.replace(old, new, -1 if replace_all else 1), "exact", len(hits)
    file_lines, final_nl = _split(text)
    old_lines, new_lines = _split(old)[0], _split(new)[0]
    matches = _whitespace_matches(file_lines, old_lines)
    strategy: Strategy = "whitespace"
    if len(matches) > 1 and not replace_all:
        where = ", ".join(_span(m) for m in matches)
        raise EditError(
            f"old_text matches {len(matches)} places when whitespace is ignored (lines "
            f"{where}). Add surrounding lines so it matches one place, or set replace_all=true."
        )
    if not matches:
        _refuse_if_applied(file_lines, new_lines)
        matches, strategy = [_fuzzy_match(file_lines, old_lines)], "fuzzy"
    for m in reversed(matches):  # bottom-up so earlier line numbers stay valid
        file_lines[m.start : m.end] = _merge(file_lines, m, old_lines, new_lines)
    return "\n".join(file_lines) + ("\n" if final_nl else ""), strategy, len(matches)


# ---------------------------------------------------------------- helpers on text and lines


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _same_final_newline(old: str, new: str) -> tuple[str, str]:
    """When only one of old_text / new_text ends in a newline, that newline counts as unchanged:
    `"    x = 1\n"` → `"    x = 2"` means the line changes, not that it joins the next one.
    An empty new_text still deletes the lines, newline included."""
    if not new.strip() or old.endswith("\n") == new.endswith("\n"):
        return old, new
    return old, new + "\n" if old.endswith("\n") else new[:-1]


def _split(text: str) -> tuple[list[str], bool]:
    """Lines without terminators, and whether the text ended with a newline."""
    final_nl = text.endswith("\n")
    return (text[:-1] if final_nl else text).split("\n"), final_nl


def _norm(line: str) -> str:
    """A line's identity when whitespace does not count."""
    return " ".join(line.split())


def _lead(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _width(lead: str) -> int:
    return len(lead.expandtabs(TAB_WIDTH))


def _is_ellipsis(line: str) -> bool:
    return line.strip() in ELLIPSES


def _span(m: _Match) -> str:
    return f"{m.start + 1}-{m.end}" if m.end - m.start > 1 else str(m.start + 1)


def _exact_offsets(text: str, old: str) -> list[int]:
    offsets, at = [], text.find(old)
    while at != -1:
        offsets.append(at)
        at = text.find(old, at + len(old))
    return offsets


def _first_difference(before: str, after: str) -> int:
    a, b = before.split("\n"), after.split("\n")
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i + 1
    return min(len(a), len(b)) + 1 if len(a) != len(b) else 1


def _whitespace_matches(file_lines: list[str], old_lines: list[str]) -> list[_Match]:
    """Non-overlapping blocks equal to old_text line for line, whitespace aside."""
    want = [_norm(line) for line in old_lines]
    have = [_norm(line) for line in file_lines]
    n, found, i = len(want), [], 0
    while i + n <= len(have):
        if have[i : i + n] == want:
            found.append(_Match(i, i + n, pairs={k: i + k for k in range(n)}))
            i += n
        else:
            i += 1
    return found


def _refuse_if_contains(text: str, new: str, start: int, end: int) -> None:
    """A re-sent edit that still matches exactly (old_text was a prefix of a changed line):
    new_text already surrounds the match, so replacing would add the change a second time."""
    at = text.find(new, max(0, end - len(new)))
    if at != -1 and at <= start and end <= at + len(new):
        line = text.count("\n", 0, at) + 1
        raise EditError(
            f"new_text is already in the file (from line {line}) around the only match of "
            "old_text: the edit looks applied already. Re-read the file with read_file first."
        )


def _refuse_if_applied(file_lines: list[str], new_lines: list[str]) -> None:
    """old_text is not in the file but new_text is: most likely a re-sent edit, and a fuzzy
    match would apply the change twice or to a near-duplicate block. (Two lines at least,
    so a common one-liner elsewhere does not count.)"""
    if sum(1 for line in new_lines if line.strip()) < 2:
        return
    there = _whitespace_matches(file_lines, new_lines)
    if there:
        raise EditError(
            f"old_text is not in the file, but new_text already is (lines {_span(there[0])}): "
            "the edit looks applied already. Re-read the file with read_file before editing again."
        )


# ---------------------------------------------------------------- merging the change


def _hunks(old_lines: list[str], new_lines: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Line opcodes old → new; `...` lines are hard separators that always stay equal."""
    cuts_o = [i for i, line in enumerate(old_lines) if _is_ellipsis(line)]
    cuts_n = [j for j, line in enumerate(new_lines) if _is_ellipsis(line)]
    if len(cuts_o) != len(cuts_n):
        raise EditError(
            "old_text and new_text must contain the same '...' lines: each '...' stands for "
            "file lines that stay as they are. Keep every '...' of old_text in new_text."
        )
    ops: list[tuple[str, int, int, int, int]] = []
    o0 = n0 = 0
    for o1, n1 in [*zip(cuts_o, cuts_n, strict=True), (len(old_lines), len(new_lines))]:
        matcher = difflib.SequenceMatcher(None, old_lines[o0:o1], new_lines[n0:n1], False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            ops.append((tag, i1 + o0, i2 + o0, j1 + n0, j2 + n0))
        o0, n0 = o1 + 1, n1 + 1
    return ops


def _merge(file_lines: list[str], m: _Match, old: list[str], new: list[str]) -> list[str]:
    """The block's replacement: old → new applied to the file's own lines."""
    hunk_of = [-1] * len(old)  # -1: the model kept this line
    inserts: dict[int, list[str]] = {}
    for h, (tag, i1, i2, j1, j2) in enumerate(_hunks(old, new)):
        if tag == "equal":
            continue
        hunk_of[i1:i2] = [h] * (i2 - i1)
        lines = [
            _reindent(file_lines, m, old, new[j1 + k], i1, i1 + k if i1 + k < i2 else None)
            for k in range(j2 - j1)
        ]
        inserts.setdefault(_insert_at(m, old, i1, i2), []).extend(_file_trailing_style(file_lines, m, lines))
    owner = {f: i for i, f in m.pairs.items()}
    out: list[str] = []
    for f in range(m.start, m.end):
        out.extend(inserts.get(f, []))
        if _keep(f, owner, hunk_of):
            out.append(file_lines[f])
    out.extend(inserts.get(m.end, []))
    return out


def _file_trailing_style(file_lines: list[str], m: _Match, lines: list[str]) -> list[str]:
    """New lines lose trailing whitespace when the matched block has none: spaces the model's
    old_text and new_text both carry are its own, not the file's."""
    if any(line != line.rstrip() for line in file_lines[m.start : m.end]):
        return lines
    return [line.rstrip() for line in lines]


def _keep(f: int, owner: dict[int, int], hunk_of: list[int]) -> bool:
    if f in owner:
        return hunk_of[owner[f]] == -1
    # A file line old_text did not mention survives unless it sits inside one rewritten hunk.
    before = [owner[g] for g in owner if g < f]
    after = [owner[g] for g in owner if g > f]
    if not before or not after:
        return True
    prev, nxt = hunk_of[max(before)], hunk_of[min(after)]
    return prev == -1 or prev != nxt


def _insert_at(m: _Match, old: list[str], i1: int, i2: int) -> int:
    """File position where a hunk's new lines go."""
    for i in range(i1, i2):
        if i in m.pairs:
            return m.pairs[i]
    if i1 > 0 and i1 - 1 in m.pairs:
        return m.pairs[i1 - 1] + 1
    later = [m.pairs[i] for i in range(i1, len(old)) if i in m.pairs]
    if later:
        return later[0]
    earlier = [m.pairs[i] for i in range(i1) if i in m.pairs]
    return earlier[-1] + 1 if earlier else m.end


def _reindent(file_lines: list[str], m: _Match, old: list[str], line: str, i1: int, twin: int | None) -> str:
    """A new line at the file's indentation: reuse its twin's lead, else shift like the block."""
    if not line.strip():
        return ""
    if twin is not None and twin in m.pairs and _lead(old[twin]) == _lead(line):
        return _lead(file_lines[m.pairs[twin]]) + line.lstrip(" \t")
    near = [i for i in m.pairs if old[i].strip()]
    if not near:
        return line
    ref = min(near, key=lambda i: (i < i1, abs(i - i1)))  # prefer a line inside the hunk
    file_lead = _lead(file_lines[m.pairs[ref]])
    width = max(0, _width(_lead(line)) + _width(file_lead) - _width(_lead(old[ref])))
    if "\t" in file_lead:  # the file indents with tabs: keep doing so
        return "\t" * (width // TAB_WIDTH) + " " * (width % TAB_WIDTH) + line.lstrip(" \t")
    return " " * width + line.lstrip(" \t")


# ---------------------------------------------------------------- fuzzy block matching

Span = tuple[int, int]  # [start, end) in non-blank-line coordinates


@dataclass
class _Chain:
    """One candidate place: a window per `...`-separated segment of old_text."""

    score: float  # rapidfuzz ratio of old_text against the windows, whitespace normalised
    spans: list[Span]
    exact: int  # old_text lines found verbatim (whitespace aside) in the windows
    lines: int  # non-blank old_text lines

    @property
    def rank(self) -> float:
        """What candidates compete on: character similarity and the share of intact lines."""
        return (self.score + 100.0 * self.exact / max(1, self.lines)) / 2

    @property
    def plausible(self) -> bool:
        """Character similarity alone flatters code; also ask for mostly intact lines."""
        stale = self.lines - self.exact
        return self.exact > stale and stale <= max(STALE_LINES, self.lines // 4)


def _fuzzy_match(file_lines: list[str], old: list[str]) -> _Match:
    nonblank = [i for i, line in enumerate(file_lines) if line.strip()]
    fnorm = [_norm(file_lines[i]) for i in nonblank]
    segments = _segments(old)
    texts = [[_norm(old[i]) for i in seg if old[i].strip()] for seg in segments]
    wanted = sum(map(len, texts))
    if not texts or wanted > MAX_FUZZY_LINES or len(fnorm) > 50 * MAX_FUZZY_LINES:
        raise EditError(_no_match_text(file_lines, old, None))
    chains = sorted(_chains(fnorm, texts), key=lambda c: (not c.plausible, -c.rank))

    def match(chain: _Chain) -> _Match:
        return _to_match(file_lines, nonblank, chain, old, segments)

    best = chains[0] if chains else None
    threshold = MIN_SCORE if wanted >= 3 else MIN_SCORE_SHORT
    if best is None or not best.plausible or best.score < threshold:
        raise EditError(_no_match_text(file_lines, old, match(best) if best else None))
    rivals = [c for c in chains[1:] if c.plausible and c.rank > best.rank - MARGIN]
    if rivals:
        where = ", ".join(f"lines {_span(match(c))} (match {c.rank:.0f}%)" for c in [best, *rivals[:4]])
        raise EditError(
            f"old_text does not match exactly, and several places match about equally well: "
            f"{where}. Re-read the one you mean with read_file and send its "
            "exact lines, with enough surrounding lines to be unique."
        )
    return match(best)


def _segments(old: list[str]) -> list[list[int]]:
    """old_text line indices between `...` lines; segments without text are dropped."""
    segments: list[list[int]] = []
    current: list[int] = []
    for i, line in enumerate(old):
        if _is_ellipsis(line):
            segments.append(current)
            current = []
        else:
            current.append(i)
    segments.append(current)
    return [seg for seg in segments if any(old[i].strip() for i in seg)]


def _windows(text: list[str], fnorm: list[str], lo: int, hi: int) -> list[tuple[float, float, int, int]]:
    """(rank, similarity, start, end) of the best windows of fnorm[lo:hi] for `text`.

    Bounded work: only windows around anchors (file lines similar to a line of `text`) are
    scored, and only the most similar ones are ranked by intact lines.
    """
    joined, n = "\n".join(text), len(text)
    starts: set[int] = set()
    for i, line in enumerate(text):
        for _choice, _score, t in process.extract(
            line, fnorm[lo:hi], scorer=fuzz.ratio, score_cutoff=50, limit=None
        ):
            starts.update(range(lo + t - i - DRIFT, lo + t - i + DRIFT + 1))
    scored = []
    for s in starts:
        for e in range(s + max(1, n - DRIFT), s + n + DRIFT + 1):
            if lo <= s and e <= hi:
                scored.append((fuzz.ratio(joined, "\n".join(fnorm[s:e])), s, e))
    scored.sort(key=lambda w: (-w[0], w[1]))
    return [
        ((ratio + 100.0 * _common(text, fnorm[s:e]) / n) / 2, ratio, s, e)
        for ratio, s, e in scored[:TOP_WINDOWS]
    ]


def _chains(fnorm: list[str], texts: list[list[str]]) -> list[_Chain]:
    """Distinct places for the first segment; later segments follow at their earliest fit."""
    firsts: list[tuple[float, float, int, int]] = []
    for w in sorted(_windows(texts[0], fnorm, 0, len(fnorm)), key=lambda w: (-w[0], w[2])):
        if all(w[3] <= s or e <= w[2] for *_sc, s, e in firsts):
            firsts.append(w)
    weights = [len("\n".join(t)) or 1 for t in texts]
    chains = []
    for _rank, ratio, s, e in firsts[:8]:
        scores, spans = [ratio], [(s, e)]
        for text in texts[1:]:
            lo = spans[-1][1]
            later = _windows(text, fnorm, lo, min(len(fnorm), lo + LOOKAHEAD))
            if not later:
                break
            top = max(w[0] for w in later)
            _r, sc, s2, e2 = min((w for w in later if w[0] >= top - 1), key=lambda w: (w[2], -w[0]))
            scores.append(sc)
            spans.append((s2, e2))
        else:
            total = sum(sc * wt for sc, wt in zip(scores, weights, strict=True)) / sum(weights)
            exact = sum(_common(t, fnorm[a:b]) for t, (a, b) in zip(texts, spans, strict=True))
            chains.append(_Chain(total, spans, exact, sum(map(len, texts))))
    return chains


def _to_match(
    file_lines: list[str],
    nonblank: list[int],
    chain: _Chain,
    old: list[str],
    segments: list[list[int]],
) -> _Match:
    """Pair old_text lines with file lines inside each segment's window."""
    first, last = chain.spans[0][0], chain.spans[-1][1] - 1
    m = _Match(nonblank[first], nonblank[last] + 1, chain.score)
    for seg, (s, e) in zip(segments, chain.spans, strict=True):
        fs, fe = nonblank[s], nonblank[e - 1] + 1
        want = [_norm(old[i]) for i in seg]
        have = [_norm(line) for line in file_lines[fs:fe]]
        matcher = difflib.SequenceMatcher(None, want, have, False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
                m.pairs.update((seg[i1 + k], fs + j1 + k) for k in range(i2 - i1))
            elif tag == "replace":  # unequal sizes: pair only lines that look alike
                j = j1
                for i in range(i1, i2):
                    hit = next((k for k in range(j, j2) if _alike(want[i], have[k])), None)
                    if hit is not None:
                        m.pairs[seg[i]] = fs + hit
                        j = hit + 1
    return m


def _common(a: list[str], b: list[str]) -> int:
    return sum((Counter(a) & Counter(b)).values())


def _alike(a: str, b: str) -> bool:
    return bool(a) and bool(b) and fuzz.ratio(a, b) >= PAIR_SCORE


def _no_match_text(file_lines: list[str], old: list[str], region: _Match | None) -> str:
    head = (
        "old_text was not found in the file, not even approximately (whitespace, blank lines "
        "and '...' were allowed)."
    )
    tail = (
        "Re-read the file with read_file and copy old_text exactly from it (without the line "
        "numbers); do not re-send the same old_text."
    )
    if region is None or region.score < 40:
        return f"{head}\n{tail}"
    lo, hi = region.start, min(region.end, region.start + 30)
    shown = "\n".join(f"{n + 1:>6}\t{file_lines[n]}" for n in range(lo, hi))
    diff = list(
        difflib.unified_diff(file_lines[region.start : region.end], old, "file", "old_text", n=1, lineterm="")
    )[2:40]
    return (
        f"{head}\nThe closest region is lines {_span(region)} "
        f"(similarity {region.score:.0f}%):\n{shown}\n"
        f"Difference from that region to your old_text:\n" + "\n".join(diff) + f"\n{tail}"
    )
