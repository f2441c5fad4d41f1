"""A corpus of imperfect edits cut from real files of installed packages, rebuilt from a seed.

Each case takes a 3-15 line block from a function of a real module (click, rich, httpx,
pydantic, jinja2), makes an intended change (a changed, inserted or deleted line) and then
drifts `old_text`/`new_text` the way models do: trailing whitespace, tabs for spaces, a
uniform re-indent, a `...` for elided middle lines, one stale line, blank-line drift. The
negative cases hold `old_text` that is not in the file, where the right answer is to refuse.
Nothing is stored: the same seed and package versions give the same corpus, and case `i`
depends only on (seed, i), so a short corpus is a prefix of a long one.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.metadata
import importlib.util
import keyword
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["CATEGORIES", "NEGATIVE", "PACKAGES", "Case", "Corpus", "Outcome", "classify", "generate"]

PACKAGES = ("click", "rich", "httpx", "pydantic", "jinja2")
DRIFTS = ("trailing_ws", "tabs", "indent_shift", "elided", "stale_line", "blank_lines")
POSITIVE = ("exact", *DRIFTS, "combined")
NEGATIVE = ("absent_foreign", "absent_rewritten", "already_applied")
CATEGORIES = POSITIVE + NEGATIVE
Outcome = Literal["correct", "refused", "wrong", "wrong_place"]

Line = tuple[int, str]  # (key, text): a key names one file line, so drift hits old and new alike
_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
_NUMBER = re.compile(r"\b\d+\b")
_STRING = re.compile(r"([\"'])([A-Za-z][^\"'\\]{1,})\1")
_LAST_ARG = re.compile(r",\s*[^,()\[\]]+\)")


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    path: str  # key into Corpus.files
    start: int  # the true block is file lines [start, end), 0-based
    end: int
    old_text: str
    new_text: str
    replacement: tuple[str, ...]  # the block after the intended change, in the file's whitespace
    must_refuse: bool = False


@dataclass
class Corpus:
    seed: int
    versions: dict[str, str]
    files: dict[str, str]
    cases: list[Case] = field(default_factory=list)

    def content(self, case: Case) -> str:
        """The file the edit is sent to (for `already_applied`, with the change already in)."""
        if case.category == "already_applied":
            return _splice(self.files[case.path], case)
        return self.files[case.path]

    def expected(self, case: Case) -> str | None:
        """The right result, or None when the edit must be refused."""
        return None if case.must_refuse else _splice(self.files[case.path], case)


def _splice(content: str, case: Case) -> str:
    lines = content.split("\n")
    return "\n".join(lines[: case.start] + list(case.replacement) + lines[case.end :])


def classify(corpus: Corpus, case: Case, result: str | None) -> Outcome:
    """correct / refused / wrong (the change stayed in the block but is not the intended one) /
    wrong_place (lines outside the true block changed).

    A must-refuse edit that is applied anyway is `wrong` when it touched only the block the
    model had in mind (already_applied, absent_rewritten) and `wrong_place` otherwise.
    """
    expected = corpus.expected(case)
    if result is None:
        return "correct" if expected is None else "refused"
    if result == expected:
        return "correct"
    before = corpus.content(case).split("\n")
    start, end = _block(case)
    matcher = difflib.SequenceMatcher(None, before, result.split("\n"), False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag != "equal" and (i1 < start or i2 > end):
            return "wrong_place"
    return "wrong"


def _block(case: Case) -> tuple[int, int]:
    """The true block's lines in the file the edit is sent to."""
    if case.category == "already_applied":
        return case.start, case.start + len(case.replacement)
    return case.start, case.end


# ---------------------------------------------------------------- source files


@functools.lru_cache(maxsize=4)
def _files(packages: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Space-indented modules of each package (40-4000 lines), and versions."""
    files, versions = {}, {}
    for pkg in packages:
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"package {pkg!r} is not installed; pip install {pkg}")
        versions[pkg] = importlib.metadata.version(pkg)
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*.py")):
            text = path.read_text(encoding="utf-8", errors="replace")
            lines = text.split("\n")
            ok = "\r" not in text and "\t" not in text and text.endswith("\n")
            if ok and 40 <= len(lines) <= 4000:
                files[f"{pkg}/{path.relative_to(root).as_posix()}"] = text
    return files, versions


def _norm(line: str) -> str:
    return " ".join(line.split())


def _occurrences(lines: list[str], block: list[str]) -> int:
    want, have = [_norm(x) for x in block], [_norm(x) for x in lines]
    return sum(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))


def _inner(node: ast.AST) -> Iterator[ast.stmt]:
    """Statements nested in a node (bodies, else/finally branches, handlers, match cases)."""
    for name in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, name, ()):
            if isinstance(child, ast.stmt):
                yield child
            yield from _inner(child)


@functools.lru_cache(maxsize=128)
def _statements(text: str) -> tuple[tuple[int, int, int], ...]:
    """(function, first line, end line) of every statement inside a function, docstrings aside."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return ()
    spans = []
    funcs = [n for n in _inner(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for f, fn in enumerate(funcs):
        for node in [fn, *_inner(fn)]:
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
                spans.append((f, node.lineno - 1, node.end_lineno or node.lineno))
    return tuple(sorted(set(spans)))


def _pick_block(text: str, rng: random.Random, lo: int, hi: int) -> tuple[int, int] | None:
    """Lines [start, end) from a statement's start to a statement's end in one function,
    unique even with whitespace ignored."""
    spans = _statements(text)
    if not spans:
        return None
    f, start, _end = rng.choice(spans)
    ends = sorted({e for g, s, e in spans if g == f and s >= start and lo <= e - start <= hi})
    if not ends:
        return None
    end = rng.choice(ends)
    lines = text.split("\n")
    block = lines[start:end]
    solid = [x for x in block if x.strip()]
    if len(solid) < 3 or sum(len(x.strip()) for x in solid) < 40:
        return None
    return (start, end) if _occurrences(lines, block) == 1 else None


# ---------------------------------------------------------------- line rewrites


def _lead(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _rewrite(line: str, rng: random.Random, intended: bool) -> str | None:
    """A small realistic difference in one line: another literal, name or argument list.

    `intended` adds the edits a model makes on purpose (a keyword argument, a comment).
    """
    body, options = line.lstrip(), []
    idents = [m for m in _IDENT.finditer(body) if not keyword.iskeyword(m.group())]
    if idents:
        m = rng.choice(idents)
        name = m.group()
        new = name[1:] if name.startswith("_") else name[:-1] if name.endswith("s") else name + "s"
        options.append(body[: m.start()] + new + body[m.end() :])
    if (num := _NUMBER.search(body)) is not None:
        options.append(body[: num.start()] + str(int(num.group()) + rng.randint(1, 9)) + body[num.end() :])
    if (lit := _STRING.search(body)) is not None:
        options.append(body[: lit.start(2)] + lit.group(2) + "_v2" + body[lit.end(2) :])
    if (arg := _LAST_ARG.search(body)) is not None:
        options.append(body[: arg.start()] + ")" + body[arg.end() :])
    if intended and body.rstrip().endswith(")"):
        options.append(body.rstrip()[:-1] + ", strict=True)")
    if intended and not body.rstrip().endswith((":", ",", "(", "\\")) and '"""' not in body:
        options.append(body + "  # TODO: revisit")
    options = [o for o in options if o != body]
    return _lead(line) + rng.choice(options) if options else None


def _change(block: list[Line], rng: random.Random, avoid: set[int]) -> list[Line] | None:
    """The block after one intended change; positions in `avoid` are left alone."""
    spots = [i for i, (_k, t) in enumerate(block) if t.strip() and i not in avoid]
    if not spots:
        return None
    i, kind = rng.choice(spots), rng.choice(("modify", "modify", "insert", "delete"))
    interior = [j for j in spots if 0 < j < len(block) - 1 and not block[j][1].rstrip().endswith(":")]
    if kind == "delete" and interior:
        j = rng.choice(interior)
        return block[:j] + block[j + 1 :]
    if kind == "insert" and (after := [j for j in spots if j + 1 < len(block) and j + 1 not in avoid]):
        j = rng.choice(after)
        lead = _lead(block[j + 1][1] if block[j + 1][1].strip() else block[j][1])
        names = [m.group() for _k, t in block for m in _IDENT.finditer(t) if not keyword.iskeyword(m.group())]
        name = rng.choice(names) if names else "result"
        line = rng.choice(
            (
                f'logger.debug("{name}=%r", {name})',
                f"assert {name} is not None",
                f"# keep {name} in sync with the caller",
            )
        )
        return block[: j + 1] + [(-1, lead + line)] + block[j + 1 :]
    new = _rewrite(block[i][1], rng, intended=True)
    return None if new is None else block[:i] + [(-1, new)] + block[i + 1 :]


# ---------------------------------------------------------------- drifts on (old, new)

Pair = tuple[list[Line], list[Line]]


def _replace_line(target: int, text: str, key: int, line: str) -> str:
    return text if key == target else line


def _map(pair: Pair, fn: Callable[[int, str], str]) -> Pair:
    """The same per-line rewrite on old and new: fn(key, text) -> text."""
    return [(k, fn(k, t)) for k, t in pair[0]], [(k, fn(k, t)) for k, t in pair[1]]


def _trailing_ws(pair: Pair, rng: random.Random) -> Pair | None:
    keys = sorted({k for k, t in pair[0] if t.strip() and k >= 0})
    chosen = set(rng.sample(keys, max(1, len(keys) // 2)))
    tails = {k: rng.choice((" ", "  ", "\t", "    ")) for k in sorted(chosen)}
    blanks = rng.choice(("", "    "))  # models often indent the blank lines too
    return _map(pair, lambda k, t: t + tails[k] if k in tails else (t if t.strip() else blanks))


def _tabs(pair: Pair, rng: random.Random) -> Pair | None:
    if all(len(_lead(t)) < 4 for _k, t in pair[0]):
        return None

    def tab(_k: int, t: str) -> str:
        width = len(_lead(t))
        return "\t" * (width // 4) + " " * (width % 4) + t.lstrip(" ")

    return _map(pair, tab)


def _indent_shift(pair: Pair, rng: random.Random) -> Pair | None:
    low = min(len(_lead(t)) for _k, t in pair[0] + pair[1] if t.strip())
    delta = rng.choice((-low, -4, 4) if low >= 4 else (4, 2) if low == 0 else (-low, 4))
    return _map(pair, lambda _k, t: " " * (len(_lead(t)) + delta) + t.lstrip(" ") if t.strip() else t)


def _stale_line(pair: Pair, rng: random.Random) -> Pair | None:
    shared = {k for k, _t in pair[1]}
    keys = [k for k, t in pair[0] if k >= 0 and k in shared and t.strip()]
    for k in rng.sample(keys, len(keys)):
        stale = _rewrite(dict(pair[0])[k], rng, intended=False)
        if stale is not None:
            return _map(pair, functools.partial(_replace_line, k, stale))
    return None


def _blank_lines(pair: Pair, rng: random.Random) -> Pair | None:
    old, new = pair
    blanks = [k for k, t in old[1:-1] if not t.strip() and k >= 0]
    if blanks:
        gone = rng.choice(blanks)
        return [x for x in old if x[0] != gone], [x for x in new if x[0] != gone]
    shared = [k for k, _t in old[:-1] if k >= 0 and k in {k2 for k2, _ in new[:-1]}]
    if not shared:
        return None
    after = rng.choice(shared)

    def add(lines: list[Line]) -> list[Line]:
        at = next(i for i, (k, _t) in enumerate(lines) if k == after) + 1
        return lines[:at] + [(-2, "")] + lines[at:]

    return add(old), add(new)


def _collapse(pair: Pair, gone: set[int], rng: random.Random) -> Pair:
    """Replace the run of file lines `gone` with one `...` line in old and new alike."""
    first = next((t for k, t in pair[0] if k in gone and t.strip()), pair[0][0][1])
    dots = _lead(first) + rng.choice(("...", "...", "...", "# ..."))

    def cut(lines: list[Line]) -> list[Line]:
        at = next(i for i, (k, _t) in enumerate(lines) if k in gone)
        return lines[:at] + [(-3, dots)] + [x for x in lines[at:] if x[0] not in gone]

    return cut(pair[0]), cut(pair[1])


_DRIFT = {
    "trailing_ws": _trailing_ws,
    "tabs": _tabs,
    "indent_shift": _indent_shift,
    "stale_line": _stale_line,
    "blank_lines": _blank_lines,
}
_ORDER = ("stale_line", "blank_lines", "indent_shift", "tabs", "trailing_ws")  # content, then whitespace


# ---------------------------------------------------------------- cases

Drifted = tuple[int, int, Pair, list[str]]  # block start, end, drifted (old, new), replacement


def _drifted(lines: list[str], rng: random.Random, drifts: tuple[str, ...]) -> Drifted | None:
    """A real block, one intended change, then the drifts applied to old and new alike."""
    elided = "elided" in drifts
    span = _pick_block("\n".join(lines), rng, 7 if elided else 3, 15)
    if span is None:
        return None
    s, e = span
    block = [(k, lines[k]) for k in range(s, e)]
    avoid: set[int] = set()
    if elided:  # head >= 2 lines, middle >= 2 (becomes `...`), tail >= 2; the change avoids it
        a = rng.randint(2, len(block) - 4)
        b = rng.randint(a + 2, len(block) - 2)
        if _occurrences(lines, lines[s : s + a]) != 1 or _occurrences(lines, lines[s + b : e]) != 1:
            return None
        avoid = set(range(a - 1, b + 1))
    new = _change(block, rng, avoid)
    if new is None:
        return None
    pair: Pair | None = (block, new)
    if elided and pair is not None:
        pair = _collapse(pair, set(range(s + a, s + b)), rng)
    for name in _ORDER:
        if name in drifts and pair is not None:
            pair = _DRIFT[name](pair, rng)
    return None if pair is None else (s, e, pair, [t for _k, t in new])


def _text(lines: list[Line]) -> str:
    return "\n".join(t for _k, t in lines)


def _positive(cid: str, category: str, path: str, text: str, rng: random.Random) -> Case | None:
    drifts = (
        () if category == "exact" else tuple(rng.sample(DRIFTS, 2)) if category == "combined" else (category,)
    )
    got = _drifted(text.split("\n"), rng, drifts)
    if got is None:
        return None
    s, e, (old, new), replacement = got
    old_text, new_text = _text(old), _text(new)
    if old_text == new_text or (old_text in text) != (category == "exact"):
        return None
    return Case(cid, category, path, s, e, old_text, new_text, tuple(replacement))


def _already_applied(cid: str, path: str, text: str, rng: random.Random) -> Case | None:
    """The model re-sends an edit the file already has: old_text is gone, new_text is there."""
    got = _drifted(text.split("\n"), rng, ())
    if got is None:
        return None
    s, e, (old, new), replacement = got
    case = Case(cid, "already_applied", path, s, e, _text(old), _text(new), tuple(replacement), True)
    applied = _splice(text, case).split("\n")
    return case if _occurrences(applied, [t for _k, t in old]) == 0 else None


def _rewritten(cid: str, path: str, text: str, rng: random.Random) -> Case | None:
    """old_text is the block as the model imagines it: most of its lines differ from the file."""
    lines = text.split("\n")
    got = _drifted(lines, rng, ())
    if got is None:
        return None
    s, e, (old, new), _replacement = got
    keys = [k for k, t in old if k >= 0 and t.strip() and k in {k2 for k2, _ in new}]
    wrong = {k: _rewrite(lines[k], rng, intended=False) for k in rng.sample(keys, -(-len(keys) * 3 // 5))}
    if None in wrong.values() or 2 * len(wrong) <= sum(1 for _k, t in old if t.strip()):
        return None
    old_lines, new_lines = _map((old, new), lambda k, t: wrong.get(k) or t)
    if _occurrences(lines, [t for _k, t in old_lines]):
        return None
    return Case(cid, "absent_rewritten", path, s, e, _text(old_lines), _text(new_lines), (), True)


def _foreign(cid: str, path: str, files: dict[str, str], rng: random.Random) -> Case | None:
    """old_text comes from another module of the same package (the model mixed up files)."""
    pkg = path.split("/")[0]
    other = rng.choice(sorted(p for p in files if p.startswith(pkg + "/") and p != path))
    got = _drifted(files[other].split("\n"), rng, ())
    if got is None:
        return None
    _s, _e, (old, new), _replacement = got
    have = {_norm(x) for x in files[path].split("\n")}
    solid = [_norm(t) for _k, t in old if t.strip()]
    if 3 * sum(x in have for x in solid) > len(solid):
        return None
    return Case(cid, "absent_foreign", path, 0, 0, _text(old), _text(new), (), True)


def _make(
    i: int, category: str, files: dict[str, str], by_pkg: dict[str, list[str]], rng: random.Random
) -> Case | None:
    pkg = rng.choice(sorted(by_pkg))
    path = rng.choice(by_pkg[pkg])
    cid = f"{i:04d}-{category}"
    if category == "absent_foreign":
        return _foreign(cid, path, files, rng)
    if category == "absent_rewritten":
        return _rewritten(cid, path, files[path], rng)
    if category == "already_applied":
        return _already_applied(cid, path, files[path], rng)
    return _positive(cid, category, path, files[path], rng)


def generate(seed: int = 0, n: int = 660, packages: tuple[str, ...] = PACKAGES) -> Corpus:
    """n cases, categories in turn; case i depends only on (seed, i) and the installed files."""
    files, versions = _files(packages)
    by_pkg: dict[str, list[str]] = {}
    for path in files:
        by_pkg.setdefault(path.split("/")[0], []).append(path)
    corpus = Corpus(seed, versions, {})
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        rng = random.Random(f"{seed}:{i}")
        for _attempt in range(500):
            case = _make(i, category, files, by_pkg, rng)
            if case is not None:
                break
        else:
            raise RuntimeError(f"could not cut a {category} case from {', '.join(packages)}")
        corpus.cases.append(case)
        corpus.files[case.path] = files[case.path]
    return corpus
