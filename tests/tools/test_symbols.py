"""find_symbol and references through the real registry over a small fixture repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from qcode.agent.contracts import Observation, ToolCall
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext
from qcode.tools.symbols import parse_name

FILES = {
    "shop/cart.py": (
        "class Item:\n    def total(self):\n        return 1\n\n\n"
        "class Cart:\n    def __init__(self):\n        self.items = []\n\n"
        "    def total(self) -> int:\n        return sum(i.total() for i in self.items)\n"
    ),
    "shop/views.py": "from shop.cart import Cart\n\n\ndef show(cart: Cart):\n    return cart.total()\n",
    "tests/test_cart.py": (
        "from shop.cart import Cart\n\n\nclass Cart:\n    def total(self):\n        return 0\n"
    ),
    "web/cart.ts": "export class Cart {\n  total(): number {\n    return 0;\n  }\n}\n",
}


class _NoSandbox:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a read-only tool used the sandbox ({name})")


@pytest.fixture
def ctx(
    make_repo: Callable[[dict[str, str]], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ToolContext:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return ToolContext(workspace=make_repo(FILES), sandbox=_NoSandbox(), diff=lambda _p: "")  # type: ignore[arg-type]


def _call(ctx: ToolContext, tool: str, **arguments: object) -> Observation:
    return default_registry().dispatch(ToolCall(id="c", name=tool, arguments=arguments), ctx)


def test_find_symbol_class_method_returns_the_defining_file_and_line_first(ctx: ToolContext) -> None:
    obs = _call(ctx, "find_symbol", name="Cart.total")
    assert obs.ok
    first = obs.data["results"][0]
    assert (first["path"], first["line"], first["scope"]) == ("shop/cart.py", 10, "Cart")
    assert obs.text.splitlines()[1] == "shop/cart.py:10: def total(self) -> int:  [method Cart.total]"
    paths = [r["path"] for r in obs.data["results"]]
    assert paths.index("tests/test_cart.py") > paths.index("web/cart.ts")  # tests after sources
    assert all(r["scope"] == "Cart" for r in obs.data["results"])  # Item.total is not Cart.total


def test_find_symbol_narrowed_by_path(ctx: ToolContext) -> None:
    obs = _call(ctx, "find_symbol", name="Cart.total", path="web")
    assert [r["path"] for r in obs.data["results"]] == ["web/cart.ts"]


def test_a_misspelt_name_gets_suggestions(ctx: ToolContext) -> None:
    obs = _call(ctx, "find_symbol", name="Cart.totl")
    assert obs.ok and obs.data["results"] == [] and "Cart.total" in obs.data["suggestions"]


def test_an_unknown_scope_falls_back_to_the_bare_name_and_says_so(ctx: ToolContext) -> None:
    obs = _call(ctx, "find_symbol", name="Basket.total")
    assert obs.text.startswith("No `Basket.total`") and obs.data["results"]


def test_references_rank_files_and_give_lines(ctx: ToolContext) -> None:
    obs = _call(ctx, "references", name="Cart")
    files = {r["path"]: r["lines"] for r in obs.data["results"]}
    assert files["shop/views.py"] == [1, 4]
    assert "shop/cart.py" not in files  # a definition is not a use
    uses = _call(ctx, "references", name="Cart.total")
    assert "shop/views.py" in [r["path"] for r in uses.data["results"]]
    assert "  5: return cart.total()" in uses.text


def test_the_index_follows_the_sessions_edits(ctx: ToolContext) -> None:
    assert _call(ctx, "find_symbol", name="Cart.clear").data["results"] == []
    edit = _call(
        ctx,
        "edit_file",
        path="shop/cart.py",
        old_text="    def total(self) -> int:",
        new_text="    def clear(self):\n        self.items = []\n\n    def total(self) -> int:",
    )
    assert edit.ok
    found = _call(ctx, "find_symbol", name="Cart.clear").data["results"]
    assert [(r["path"], r["line"]) for r in found] == [("shop/cart.py", 10)]


def test_paths_outside_the_workspace_and_non_names_are_refused(ctx: ToolContext) -> None:
    outside = _call(ctx, "find_symbol", name="Cart", path="../")
    assert not outside.ok and "above the workspace" in outside.text
    bad = _call(ctx, "references", name="os.system('x')")
    assert not bad.ok and "not a symbol name" in bad.text


def test_results_are_capped(ctx: ToolContext) -> None:
    many = "".join(f"class C{n}:\n    def run(self):\n        pass\n" for n in range(60))
    (ctx.workspace / "many.py").write_text(many)
    obs = _call(ctx, "find_symbol", name="run")
    assert len(obs.data["results"]) == 20 and "[40 more definitions; narrow with path=]" in obs.text


@pytest.mark.parametrize(
    ("text", "name", "scope"),
    [
        ("total", "total", ""),
        ("Cart.total", "total", "Cart"),
        ("a.b.Cart.total", "total", "Cart"),
        ("Cart::total", "total", "Cart"),
        ("Cart#total", "total", "Cart"),
    ],
)
def test_parse_name(text: str, name: str, scope: str) -> None:
    parsed = parse_name(text)
    assert (parsed.name, parsed.scope) == (name, scope)
