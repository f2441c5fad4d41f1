"""Focus parsing, PageRank against networkx's, ranking toward the task, and the token budget."""

from __future__ import annotations

import random

import networkx as nx
import pytest
from qcode.tools.repomap.focus import parse_focus
from qcode.tools.repomap.rank import pagerank, rank_files
from qcode.tools.repomap.render import estimate_tokens, fit_to_budget
from qcode.tools.repomap.tags import Definition, FileTags


def test_focus_finds_identifiers_pairs_and_paths() -> None:
    focus = parse_focus(
        "Fix QuerySet.select_related() in django/db/models/query.py; see Model::save and the cart"
    )
    assert focus.qualified >= {("QuerySet", "select_related"), ("Model", "save")}
    assert focus.paths == frozenset({"django/db/models/query.py"})
    assert focus.idents["select_related"] > focus.idents["cart"]
    assert "the" not in focus.idents and "py" not in focus.idents
    assert not parse_focus("")


@pytest.mark.parametrize("restart", [{}, {"n3": 2.0, "n7": 1.0}])
def test_pagerank_matches_networkx(restart: dict[str, float]) -> None:
    rng = random.Random(7)
    nodes = [f"n{i}" for i in range(40)]
    edges = {}
    for _ in range(120):
        a, b = rng.sample(nodes[:30], 2)  # n30..n39 have no out-edges: dangling
        edges[(a, b)] = rng.random() * 5
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_weighted_edges_from((a, b, w) for (a, b), w in edges.items())
    expected = nx.pagerank(graph, personalization=restart or None, dangling=restart or None)
    got = pagerank(nodes, edges, restart)
    assert max(abs(expected[n] - got[n]) for n in nodes) < 1e-6


def _tags(defs: list[tuple[str, str]], refs: dict[str, int]) -> FileTags:
    return FileTags(
        [
            Definition(name, "method" if scope else "class", i, scope, f"def {name}():")
            for i, (name, scope) in enumerate(defs)
        ],
        refs,
    )


@pytest.fixture
def repo_tags() -> dict[str, FileTags]:
    tags = {
        "core/models.py": _tags([("Model", ""), ("save", "Model"), ("delete", "Model")], {"connect": 3}),
        "core/db.py": _tags([("connect", ""), ("Cursor", ""), ("save", "Cursor")], {}),
        "shop/cart.py": _tags([("Cart", ""), ("total", "Cart")], {"Model": 2, "save": 4}),
        "shop/views.py": _tags([("show_cart", "")], {"Cart": 2, "total": 1}),
    }
    tags.update({f"app{i}/use.py": _tags([], {"connect": 5, "Model": 1}) for i in range(8)})
    return tags


def test_without_focus_the_most_referenced_files_lead(repo_tags: dict[str, FileTags]) -> None:
    ranking = rank_files(repo_tags, parse_focus(""))
    assert [p for p, _ in ranking.files[:2]] == ["core/db.py", "core/models.py"]


def test_a_named_method_brings_its_defining_file_first(repo_tags: dict[str, FileTags]) -> None:
    ranking = rank_files(repo_tags, parse_focus("Cart.total returns the wrong sum"))
    assert ranking.files[0][0] == "shop/cart.py"
    assert ("shop/cart.py", "total") in ranking.focus_defs
    qualified = rank_files(repo_tags, parse_focus("Cursor.save loses rows"))
    assert qualified.files[0][0] == "core/db.py"  # `save` alone is ambiguous; the pair is not


def test_paths_and_touched_files_pull_rank(repo_tags: dict[str, FileTags]) -> None:
    assert rank_files(repo_tags, parse_focus("look at shop/views.py")).files[0][0] == "shop/views.py"
    assert rank_files(repo_tags, parse_focus(""), touched=["app3/use.py"]).files[0][0] == "app3/use.py"


def test_fit_to_budget_stays_within_tokens_and_keeps_focus_defs(repo_tags: dict[str, FileTags]) -> None:
    ranking = rank_files(repo_tags, parse_focus("Cart.total"))
    ranked = [p for p, _ in ranking.files]
    for budget in (5, 20, 40, 80, 1000):
        text, files = fit_to_budget(ranked, repo_tags, ranking.def_rank, ranking.focus_defs, budget)
        assert estimate_tokens(text) <= budget or not files
        assert files == ranked[: len(files)]
    text, files = fit_to_budget(ranked, repo_tags, ranking.def_rank, ranking.focus_defs, 1000)
    assert len(files) == len(ranked)
    assert "shop/cart.py\n     1│def Cart():\n     2│def total():\n" in text  # 1-based line numbers


def test_a_file_too_big_for_the_budget_is_cut_to_its_top_signatures() -> None:
    tags = {"big.py": _tags([(f"function_{i}", "") for i in range(12)] + [("wanted", "")], {})}
    ranking = rank_files(tags, parse_focus("wanted"))
    text, files = fit_to_budget(["big.py"], tags, ranking.def_rank, ranking.focus_defs, 30)
    assert files == ["big.py"] and "wanted" in text and "function_11" not in text
    assert estimate_tokens(text) <= 30
