"""AST mutations: each kind is found inside functions only, and changes one small span."""

from __future__ import annotations

import ast
from collections import Counter

from qcode.evals.mutations import find_mutations

SOURCE = '''\
LIMIT = 3 if True else 4


class Box:
    def fits(self, items, strict=False):
        """Docstring < with symbols."""
        assert items is not None
        if not items:
            return True
        total = len(items) + 1
        if strict and total > LIMIT:
            return False
        return items[0] <= LIMIT or total in (1, 2)
'''


def test_kinds_found_in_functions_only() -> None:
    found = find_mutations("box.py", SOURCE)
    kinds = Counter(m.kind for m in found)
    assert set(kinds) == {
        "flipped comparison",
        "off-by-one",
        "removed branch",
        "wrong constant",
        "swapped boolean operator",
        "wrong arithmetic operator",
    }
    assert all(m.line >= 5 for m in found)  # nothing from the module-level line
    assert all(m.function == "Box.fits" for m in found)
    assert not any(m.line == 7 for m in found)  # assertions are left alone
    assert not any(m.line == 6 for m in found)  # the docstring's `<` is not code


def test_each_mutation_is_small_and_still_parses() -> None:
    for mutation in find_mutations("box.py", SOURCE):
        mutant = mutation.apply(SOURCE)
        ast.parse(mutant)
        assert mutant != SOURCE
        changed = [(a, b) for a, b in zip(SOURCE.splitlines(), mutant.splitlines(), strict=False) if a != b]
        if mutation.kind != "removed branch":
            assert len(changed) == 1, mutation


def test_specific_rewrites() -> None:
    by_text = {(m.kind, m.original, m.replacement) for m in find_mutations("box.py", SOURCE)}
    assert ("flipped comparison", "<=", "<") in by_text
    assert ("flipped comparison", ">", ">=") in by_text
    assert ("flipped comparison", "in", "not in") in by_text
    assert ("off-by-one", "0", "1") in by_text
    assert ("wrong constant", "True", "False") in by_text
    assert ("swapped boolean operator", "and", "or") in by_text
    assert ("wrong arithmetic operator", "+", "-") in by_text
    removed = [m for m in find_mutations("box.py", SOURCE) if m.kind == "removed branch"]
    assert [m.original.splitlines()[0].strip() for m in removed] == [
        "if not items:",
        "if strict and total > LIMIT:",
    ]


def test_unparsable_source_has_no_mutations() -> None:
    assert find_mutations("bad.py", "def (:\n") == []
