"""The syntax tier as pure functions: problems per language, matching across line shifts, rendering."""

from __future__ import annotations

import random

import pytest
from qcode.tools.diagnostics import (
    CALLBACK_FROM,
    MAX_PROBLEMS,
    Problem,
    introduced,
    problem_keys,
    render_problems,
    syntax_check,
    syntax_problems,
)

# A clean file and the same file broken by one edit, for every language the repo map knows.
CASES = {
    "a.py": ("def f(x):\n    return g(x, 1)\n", "def f(x):\n    return g(x, 1\n"),
    "a.js": ("function f(x) {\n  return g(x);\n}\n", "function f(x) {\n  return g(x;\n}\n"),
    "a.ts": (
        "class C {\n  m(): number {\n    return 1;\n  }\n}\n",
        "class C {\n  m(): number {\n    return 1;\n}\n",
    ),
    "a.tsx": ("const A = () => <div>{x}</div>;\n", "const A = () => <div>{x</div>;\n"),
    "a.go": ("package a\n\nfunc F() int {\n\treturn 1\n}\n", "package a\n\nfunc F() int {\n\treturn (1\n}\n"),
    "a.rs": ("fn f() -> i32 {\n    1\n}\n", "fn f() -> i32 {\n    (1\n}\n"),
    "A.java": ("class A {\n  int f() { return 1; }\n}\n", "class A {\n  int f() { return (1; }\n}\n"),
    "a.c": ("int f(void) {\n  return 1;\n}\n", "int f(void) {\n  return (1;\n}\n"),
    "a.cpp": ("int f() {\n  return 1;\n}\n", "int f() {\n  return (1;\n}\n"),
    "a.rb": ("def f(x)\n  g(x)\nend\n", "def f(x)\n  g(x\nend\n"),
}


@pytest.mark.parametrize("path", sorted(CASES))
def test_every_repo_map_language_reports_a_break_and_nothing_on_clean_code(path: str) -> None:
    clean, broken = CASES[path]
    assert syntax_problems(clean, path) == []
    problems = syntax_problems(broken, path)
    assert problems, f"{path}: the break was not seen"
    assert all(1 <= p.line <= broken.count("\n") + 1 for p in problems)


def test_unclosed_parenthesis_names_the_bracket_and_its_line() -> None:
    text = "def f(x):\n    y = g(x, 1\n    return y\n"
    assert syntax_problems(text, "m.py") == [Problem(2, "`(` is never closed")]


def test_missing_brace_says_which_opener_it_would_close() -> None:
    text = "function f() {\n  if (x) {\n    return 1;\n}\n"
    problems = syntax_problems(text, "m.ts")
    assert problems and any(p.message == "missing `}`" and "line" in p.hint for p in problems)


def test_files_without_a_grammar_are_not_judged() -> None:
    assert syntax_problems("this is (not closed", "notes.md") is None
    assert syntax_problems("x = (", "Makefile") is None


def test_a_problem_the_file_already_had_is_not_blamed_when_lines_shift() -> None:
    before = "def old(:\n    pass\n"
    after = "import os\n\n\ndef old(:\n    pass\n"  # three lines added above the old problem
    old = syntax_problems(before, "m.py") or []
    new = syntax_problems(after, "m.py") or []
    assert old and new and old[0].line != new[0].line
    assert introduced(problem_keys(old, before.split("\n")), new, after.split("\n")) == []


def test_a_second_identical_problem_is_new_even_though_one_existed() -> None:
    lines = ["x = f(", "y = 2", "x = f("]
    old = problem_keys([Problem(1, "`(` is never closed")], lines[:1])
    found = [Problem(1, "`(` is never closed"), Problem(3, "`(` is never closed")]
    assert introduced(old, found, lines) == [Problem(3, "`(` is never closed")]


def test_a_new_break_beside_an_old_one_is_reported() -> None:
    before = "def a(:\n    pass\n"
    after = before + "\n\ndef b():\n    return g(1\n"
    old = problem_keys(syntax_problems(before, "m.py") or [], before.split("\n"))
    new = introduced(old, syntax_problems(after, "m.py") or [], after.split("\n"))
    assert [p.line for p in new] == [6]


def test_garbage_is_capped() -> None:
    text = "".join(f"def f{n}(:\n" for n in range(MAX_PROBLEMS * 4))
    problems = syntax_problems(text, "m.py") or []
    assert 0 < len(problems) <= MAX_PROBLEMS


def test_render_shows_line_numbers_context_and_counts_the_rest() -> None:
    lines = [f"line {n}" for n in range(1, 21)]
    problems = [Problem(n, "bad") for n in (3, 5, 7, 9, 11, 13, 15)]
    text = render_problems("m.py", problems, lines)
    assert text.splitlines()[0] == "m.py:3: bad"
    assert ">    3\tline 3" in text and "     1\tline 1" in text
    assert "[2 more problems in m.py]" in text and "m.py:15" not in text


@pytest.mark.slow
@pytest.mark.parametrize("path", ["m.py", "m.ts"])
def test_incremental_reparse_agrees_with_a_fresh_parse(path: str) -> None:
    rng = random.Random(path)
    text = "".join(CASES["a.py" if path == "m.py" else "a.ts"][0] for _ in range(30))
    parsed = None
    for _ in range(300):  # random insertions and deletions of bracket, colon and newline characters
        at = rng.randrange(len(text) + 1)
        if rng.random() < 0.5 and text:
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + rng.choice("()[]{}:;\n é") + text[at:]
        found, parsed, _emptied = syntax_check(text, path, parsed)
        assert found == syntax_problems(text, path)


@pytest.mark.slow
def test_a_large_file_goes_through_the_deadline_path_with_the_same_answer() -> None:
    text = "def f(x):\n    return g(x, 1)\n" * (CALLBACK_FROM // 20)
    broken = text + "y = (\n"
    _clean, parsed, _ = syntax_check(text, "big.py")
    assert len(text) > CALLBACK_FROM and _clean == []
    found, _, _ = syntax_check(broken, "big.py", parsed)
    assert found == syntax_problems(broken, "big.py") and found and found[0].line == text.count("\n") + 1


def test_a_parse_past_its_deadline_says_nothing_rather_than_something_wrong() -> None:
    text = "def f(x):\n    return g(x, 1\n" * (CALLBACK_FROM // 20)
    assert syntax_check(text, "big.py", deadline=0) == (None, None, [])
