"""Issue text from a failing run: a snippet and the error, never a test's name."""

from __future__ import annotations

from qcode.evals.statements import failure_sections, problem_statement, public_symbol

OUTPUT = """\
=================================== FAILURES ===================================
_________________________ CacheTest.test_maxsize_zero __________________________
tests/__init__.py:86: in test_maxsize_zero
    cache = make_cache(maxsize=0)
src/cachetools/__init__.py:37: in __init__
    raise ValueError("maxsize must be non-negative")
E   ValueError: maxsize must be non-negative
_______________________________ test_roundtrip ________________________________
tests/test_io.py:12: in test_roundtrip
    assert result == expected
E   assert 3 == 2
=========================== short test summary info ============================
FAILED tests/test_cache.py::CacheTest::test_maxsize_zero - ValueError: maxsize must be non-negative
FAILED tests/test_io.py::test_roundtrip - assert 3 == 2
"""
FAILING = ["tests/test_cache.py::CacheTest::test_maxsize_zero", "tests/test_io.py::test_roundtrip"]


def test_sections_by_header() -> None:
    sections = failure_sections(OUTPUT)
    assert set(sections) == {"CacheTest.test_maxsize_zero", "test_roundtrip"}
    assert "short test summary" not in sections["test_roundtrip"]


def test_statement_has_the_call_and_error_but_no_test_names() -> None:
    text = problem_statement("cachetools", "Cache.__init__", OUTPUT, FAILING, seed="s")
    assert "make_cache(maxsize=0)" in text
    assert "ValueError: maxsize must be non-negative" in text
    assert "`cachetools.Cache`" in text
    assert "test_maxsize_zero" not in text and "test_roundtrip" not in text and "tests/" not in text
    assert text == problem_statement("cachetools", "Cache.__init__", OUTPUT, FAILING, seed="s")  # seeded


def test_public_symbol() -> None:
    assert public_symbol("pkg.mod", "Parser.parse") == "`pkg.mod.Parser.parse`"
    assert public_symbol("pkg.mod", "Parser._helper") == "`pkg.mod.Parser`"
    assert public_symbol("pkg.mod", "_Private.run") == "the `pkg.mod` module"
    assert public_symbol("pkg", "Cache.__setitem__") == "`pkg.Cache`"
