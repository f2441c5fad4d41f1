"""apply_edit: exact, whitespace-tolerant and fuzzy matching, and the errors the model reads."""

from __future__ import annotations

import pytest
from qcode.agent.exceptions import ToolError
from qcode.tools.edit_match import EditError, apply_edit

CLASS = (
    "class Cart:\n"
    "    def total(self):\n"
    "        amount = 0\n"
    "        for item in self.items:\n"
    "            amount += item.price\n"
    "        return amount\n"
    "\n"
    "    def count(self):\n"
    "        return len(self.items)\n"
)


def test_exact_replaces_a_substring_and_reports_the_line() -> None:
    result = apply_edit(CLASS, "amount += item.price", "amount += item.price * item.qty")
    assert result.strategy == "exact"
    assert result.start_line == 5
    assert result.count == 1
    assert "            amount += item.price * item.qty\n" in result.new_content
    assert result.new_content.replace(" * item.qty", "") == CLASS


def test_trailing_space_drift_matches_whitespace_insensitively() -> None:
    content = "a = 1   \nb = 2\t\nc = 3\n"
    result = apply_edit(content, "a = 1\nb = 2\n", "a = 1\nb = 20\n")
    assert result.strategy == "whitespace"
    assert result.new_content == "a = 1   \nb = 20\nc = 3\n"  # untouched line keeps its spaces
    assert result.start_line == 2


def test_tabs_in_file_spaces_in_old_text_keep_the_tabs() -> None:
    content = "func main() {\n\tif ok {\n\t\trun()\n\t}\n}\n"
    old = "    if ok {\n        run()\n    }\n"
    new = "    if ok {\n        run()\n        log()\n    }\n"
    result = apply_edit(content, old, new)
    assert result.strategy == "whitespace"
    assert result.new_content == "func main() {\n\tif ok {\n\t\trun()\n\t\tlog()\n\t}\n}\n"


def test_reindented_block_comes_out_at_the_files_indentation() -> None:
    old = "amount = 0\nfor item in self.items:\n    amount += item.price\nreturn amount\n"
    new = (
        "amount = 0\nfor item in self.items:\n    if item.active:\n"
        "        amount += item.price\nreturn amount\n"
    )
    result = apply_edit(CLASS, old, new)
    assert result.strategy == "whitespace"
    assert result.start_line == 5
    assert (
        "        for item in self.items:\n"
        "            if item.active:\n"
        "                amount += item.price\n"
        "        return amount\n"
    ) in result.new_content


def test_elided_middle_with_dots_keeps_the_skipped_lines() -> None:
    old = "    def total(self):\n        ...\n        return amount\n"
    new = "    def total(self):\n        ...\n        assert amount >= 0\n        return amount\n"
    result = apply_edit(CLASS, old, new)
    assert result.strategy == "fuzzy"
    expected = CLASS.replace("        return amount\n", "        assert amount >= 0\n        return amount\n")
    assert result.new_content == expected
    assert result.start_line == 6


def test_dots_must_survive_into_new_text() -> None:
    old = "    def total(self):\n        ...\n        return amount\n"
    with pytest.raises(EditError, match=r"'\.\.\.'"):
        apply_edit(CLASS, old, "    def total(self):\n        return 0\n")


def test_stale_line_is_tolerated_and_the_files_version_of_kept_lines_survives() -> None:
    # The model remembers `amount = None`; the file says `amount = 0`. It edits only the loop.
    old = (
        "        amount = None\n"
        "        for item in self.items:\n"
        "            amount += item.price\n"
        "        return amount\n"
    )
    new = old.replace("item.price", "item.cost")
    result = apply_edit(CLASS, old, new)
    assert result.strategy == "fuzzy"
    assert result.new_content == CLASS.replace("item.price", "item.cost")


def test_stale_line_that_the_model_changes_replaces_the_files_line() -> None:
    old = "        amount = None\n        for item in self.items:\n            amount += item.price\n"
    new = "        amount = 100\n        for item in self.items:\n            amount += item.price\n"
    result = apply_edit(CLASS, old, new)
    assert result.strategy == "fuzzy"
    assert result.new_content == CLASS.replace("amount = 0", "amount = 100")
    assert result.start_line == 3


def test_blank_line_differences_are_tolerated() -> None:
    old = "        return amount\n    def count(self):\n        return len(self.items)\n"
    new = "        return amount\n    def count(self):\n        return len(self.items or [])\n"
    result = apply_edit(CLASS, old, new)
    assert result.strategy == "fuzzy"
    assert result.new_content == CLASS.replace("len(self.items)", "len(self.items or [])")


def test_two_near_equal_candidates_are_refused_with_their_lines() -> None:
    content = (
        "def a():\n    x = 1\n    y = 2\n    return x + y\n\n"
        "def b():\n    x = 1\n    y = 2\n    return x + y\n"
    )
    old = "    x = 1\n    y = 3\n    return x + y\n"
    with pytest.raises(EditError) as err:
        apply_edit(content, old, old.replace("x + y", "x * y"))
    message = str(err.value)
    assert "lines 2-4" in message and "lines 7-9" in message


def test_multiple_exact_matches_need_replace_all_and_name_the_lines() -> None:
    content = "x = 1\ny = 2\nx = 1\n"
    with pytest.raises(EditError, match=r"2 times .*lines 1, 3.*replace_all"):
        apply_edit(content, "x = 1", "x = 9")


def test_replace_all_changes_every_occurrence() -> None:
    result = apply_edit("x = 1\ny = 2\nx = 1\n", "x = 1", "x = 9", replace_all=True)
    assert result.new_content == "x = 9\ny = 2\nx = 9\n"
    assert result.count == 2
    assert result.start_line == 1


def test_replace_all_applies_to_every_whitespace_match() -> None:
    content = "if a:\n    go()  \nif b:\n\tgo()\n"
    result = apply_edit(content, "  go()\n", "  stop()\n", replace_all=True)
    assert result.strategy == "whitespace"
    assert result.new_content == "if a:\n    stop()\nif b:\n\tstop()\n"
    assert result.count == 2


def test_no_match_shows_the_closest_region_with_line_numbers_and_a_diff() -> None:
    old = "    def count(self):\n        return len(self.things)\n        # done\n"
    with pytest.raises(EditError) as err:
        apply_edit(CLASS, old, "    def count(self):\n        return 0\n")
    message = str(err.value)
    assert "closest region is lines 8-9" in message
    assert "     9\t        return len(self.items)" in message
    assert "+        return len(self.things)" in message
    assert "do not re-send" in message


def test_unrelated_text_is_not_fuzzily_applied() -> None:
    old = "    def average(self):\n        mean = 7\n        return mean * 7\n"
    with pytest.raises(EditError, match="not found"):
        apply_edit(CLASS, old, "    def average(self):\n        return 0\n")


def test_single_line_is_never_fuzzy_matched() -> None:
    with pytest.raises(EditError, match="not found"):
        apply_edit(CLASS, "        amount = 1\n", "        amount = 2\n")


def test_crlf_line_endings_are_preserved() -> None:
    content = "one\r\ntwo  \r\nthree\r\n"
    exact = apply_edit(content, "one\n", "ONE\n")  # the model's LF still matches
    assert exact.new_content == "ONE\r\ntwo  \r\nthree\r\n"
    tolerant = apply_edit(content, "two\nthree\n", "two\nthree\nfour\n")
    assert tolerant.new_content == "one\r\ntwo  \r\nthree\r\nfour\r\n"


def test_missing_trailing_newline_is_preserved() -> None:
    result = apply_edit("a\n  b", "a\nb", "a\nc")
    assert result.new_content == "a\n  c"


def test_empty_old_text_suggests_write_file() -> None:
    with pytest.raises(EditError, match="write_file"):
        apply_edit(CLASS, "  \n", "x")


def test_identical_old_and_new_text_is_refused() -> None:
    with pytest.raises(EditError, match="identical"):
        apply_edit(CLASS, "return amount", "return amount")


def test_edit_error_is_a_tool_error_for_the_model() -> None:
    assert issubclass(EditError, ToolError)


def test_a_re_sent_insert_is_refused_instead_of_inserted_twice() -> None:
    # The edit was applied already: old_text is gone, new_text is in the file.
    old = "        amount = 0\n        for item in self.items:\n"
    new = "        amount = 0\n        assert self.items\n        for item in self.items:\n"
    applied = apply_edit(CLASS, old, new).new_content
    with pytest.raises(EditError, match="applied already"):
        apply_edit(applied, old, new)


def test_a_re_sent_line_append_is_refused_instead_of_appended_twice() -> None:
    # old_text is a prefix of the changed line, so it still matches exactly.
    old, new = "amount += item.price", "amount += item.price  # net"
    applied = apply_edit(CLASS, old, new).new_content
    with pytest.raises(EditError, match="applied already"):
        apply_edit(applied, old, new)


def test_a_re_sent_delete_does_not_land_on_a_near_duplicate_block() -> None:
    content = (
        "def usage(ctx):\n    f = make(ctx)\n    return f.value()\n\n"
        "def help(ctx):\n    f = make(ctx)\n    f.write_help(ctx)\n    return f.value()\n"
    )
    old = "    f = make(ctx)\n    f.write_usage(ctx)\n    return f.value()\n"  # deleted from usage() already
    with pytest.raises(EditError, match="applied already"):
        apply_edit(content, old, "    f = make(ctx)\n    return f.value()\n")


SOURCE_F = "def f():\n    x = 1\n    return x\n"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    x = 1\n", "    x = 2", "def f():\n    x = 2\n    return x\n"),  # not "x = 2    return x"
        ("    x = 1", "    x = 2\n", "def f():\n    x = 2\n    return x\n"),  # no blank line added
        ("    x = 1\n", "", "def f():\n    return x\n"),  # an empty new_text still deletes the line
        ("    x = 1\n", "    x = 2\n    y = 3", "def f():\n    x = 2\n    y = 3\n    return x\n"),
        ("x = 1\n    return x", "x = 2\n    return x\n", "def f():\n    x = 2\n    return x\n"),
    ],
)
def test_an_uneven_final_newline_counts_as_unchanged(old: str, new: str, expected: str) -> None:
    assert apply_edit(SOURCE_F, old, new).new_content == expected


def test_trailing_spaces_the_file_lacks_are_not_written() -> None:
    """Both old_text and new_text carry trailing spaces (a model's habit); the file has none."""
    old = "def f():  \n    x = 1  \n    return x  \n"
    new = "def f():  \n    x = 2  \n    return x  \n"
    result = apply_edit(SOURCE_F, old, new)
    assert result.new_content == "def f():\n    x = 2\n    return x\n"
    assert result.strategy != "exact"


def test_a_file_with_trailing_spaces_keeps_its_style() -> None:
    source = "a = 1  \nb = 2  \n"
    assert apply_edit(source, "a = 1\nb = 2\n", "a = 1\nb = 3  \n").new_content == "a = 1  \nb = 3  \n"
