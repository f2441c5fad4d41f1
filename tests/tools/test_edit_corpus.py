"""apply_edit on a small corpus of imperfect edits cut from installed packages (a behaviour
check; the full side-by-side with aider is `python -m qcode.evals.bench_edits`)."""

from __future__ import annotations

from collections import Counter

import pytest
from qcode.evals.edit_corpus import CATEGORIES, NEGATIVE, Case, Corpus, classify, generate
from qcode.tools.edit_match import EditError, apply_edit

SEED = 7


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return generate(SEED, 5 * len(CATEGORIES))


@pytest.mark.slow
def test_qcode_applies_drifted_edits_and_refuses_absent_ones(corpus: Corpus) -> None:
    outcomes: Counter[str] = Counter()
    failures = []
    for case in corpus.cases:
        try:
            result: str | None = apply_edit(corpus.content(case), case.old_text, case.new_text).new_content
        except EditError:
            result = None
        outcome = classify(corpus, case, result)
        outcomes[outcome] += 1
        if outcome != "correct":
            failures.append(f"{case.id} {case.path}:{case.start + 1} {outcome}")
    assert outcomes["wrong_place"] == 0, failures
    assert outcomes["correct"] >= 0.98 * len(corpus.cases), failures


def test_every_category_is_present_and_drift_really_breaks_exact_matching(corpus: Corpus) -> None:
    assert Counter(c.category for c in corpus.cases) == {c: 5 for c in CATEGORIES}
    for case in corpus.cases:
        content = corpus.content(case)
        assert case.old_text != case.new_text
        if case.category != "already_applied":  # a re-sent one-line append still matches exactly
            assert (case.old_text in content) == (case.category == "exact"), case.id
        expected = corpus.expected(case)
        assert (expected is None) == (case.category in NEGATIVE)
        assert expected != content


@pytest.mark.slow
def test_generator_is_deterministic_and_a_short_corpus_is_a_prefix(corpus: Corpus) -> None:
    again = generate(SEED, 5 * len(CATEGORIES))
    assert again.cases == corpus.cases and again.versions == corpus.versions
    assert generate(SEED, 11).cases == corpus.cases[:11]
    assert generate(SEED + 1, 11).cases != corpus.cases[:11]
    assert set(corpus.versions) == {"click", "rich", "httpx", "pydantic", "jinja2"}


def test_classify_tells_a_misplaced_change_from_a_mangled_one() -> None:
    text = "def a():\n    x = 1\n    return x\n\ndef b():\n    x = 1\n    return x\n"
    case = Case(
        "t", "stale_line", "m.py", 5, 7, "x = 1\nreturn x", "x = 2\nreturn x", ("    x = 2", "    return x")
    )
    corpus = Corpus(0, {}, {"m.py": text}, [case])
    head = "def a():\n    x = 1\n    return x\n\ndef b():\n"
    assert classify(corpus, case, head + "    x = 2\n    return x\n") == "correct"
    assert classify(corpus, case, None) == "refused"
    assert classify(corpus, case, head + "    x = 2\n") == "wrong"
    misplaced = head.replace("x = 1", "x = 2") + "    x = 1\n    return x\n"
    assert classify(corpus, case, misplaced) == "wrong_place"
    refuse = Case("n", "absent_foreign", "m.py", 0, 0, "y = 1", "y = 2", (), True)
    assert classify(corpus, refuse, None) == "correct"
    assert classify(corpus, refuse, text + "y = 2\n") == "wrong_place"
