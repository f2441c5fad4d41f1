"""Rank files by personalized PageRank over the reference graph. Pure: no I/O.

Nodes are files; an edge A → B says A references an identifier that B defines, weighted by
how telling the identifier is (long, mentioned in the task, defined in few places) times the
square root of how often A uses it. The random walk restarts at the files the task points at:
those defining identifiers it names (a `Class.member` pair most strongly), paths it names, and
files already touched. Identifiers defined in very many files (`get`, `__init__`) carry no
signal about where to look and are left out of the graph, which also keeps it small.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from qcode.tools.repomap.focus import Focus
from qcode.tools.repomap.tags import FileTags

__all__ = ["Ranking", "rank_files", "pagerank"]

MAX_DEFINERS = 25
"""Identifiers defined in more files than this add no edges (unless the task names them)."""
QUALIFIED = 10.0
"""Restart weight of the files defining a `Class.member` the task names, against 1 per identifier."""
PATH_MENTION = 10.0
TOUCHED = 3.0
STEM_MATCH = 0.5
"""A file whose name or folder equals an identifier in the task (`query` → query.py)."""


@dataclass
class Ranking:
    files: list[tuple[str, float]]
    """(path, PageRank), best first; every file with tags."""
    def_rank: dict[tuple[str, str], float] = field(default_factory=dict)
    """(path, identifier) → the share of rank flowing into that definition."""
    focus_defs: set[tuple[str, str]] = field(default_factory=set)
    """(path, identifier) of definitions the task names: always shown."""


def rank_files(tags: Mapping[str, FileTags], focus: Focus, touched: Iterable[str] = ()) -> Ranking:
    defines, qualified = _definitions(tags)
    restart = _restart(tags, focus, set(touched), defines, qualified)
    weights = _ident_weights(defines, focus)
    edges, out_weight = _edges(tags, defines, weights)
    rank = pagerank(list(tags), edges, restart)
    files = sorted(rank.items(), key=lambda item: (-item[1], item[0]))
    return Ranking(
        files, _def_rank(tags, defines, weights, out_weight, rank), _focus_defs(focus, defines, qualified)
    )


def pagerank(
    nodes: list[str],
    edges: Mapping[tuple[str, str], float],
    restart: Mapping[str, float],
    alpha: float = 0.85,
    tol: float = 1.0e-6,
    max_iter: int = 100,
) -> dict[str, float]:
    """Personalized PageRank by power iteration over an edge list: networkx's algorithm
    (`nx.pagerank`, the tests' oracle) without a networkx graph or scipy, whose construction
    and import cost more than the ranking itself on every rebuild. Dangling nodes jump like
    restarts."""
    n = len(nodes)
    if n == 0:
        return {}
    index = {node: i for i, node in enumerate(nodes)}
    rows = np.fromiter((index[s] for s, _ in edges), dtype=np.int64, count=len(edges))
    cols = np.fromiter((index[d] for _, d in edges), dtype=np.int64, count=len(edges))
    weights = np.fromiter(edges.values(), dtype=float, count=len(edges))
    out = np.bincount(rows, weights=weights, minlength=n)
    share = weights / out[rows]  # each edge's fraction of its source's out-weight
    jump = np.fromiter((restart.get(node, 0.0) for node in nodes), dtype=float, count=n)
    jump = jump / jump.sum() if jump.sum() > 0 else np.full(n, 1.0 / n)
    dangling = out == 0
    x = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        previous = x
        flow = np.bincount(cols, weights=x[rows] * share, minlength=n)  # x @ M, M row-normalized
        x = alpha * (flow + x[dangling].sum() * jump) + (1 - alpha) * jump
        if np.abs(x - previous).sum() < n * tol:
            break
    return dict(zip(nodes, x.tolist(), strict=True))


def _definitions(tags: Mapping[str, FileTags]) -> tuple[dict[str, set[str]], dict[tuple[str, str], set[str]]]:
    defines: dict[str, set[str]] = defaultdict(set)
    qualified: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path, file_tags in tags.items():
        for definition in file_tags.defs:
            defines[definition.name].add(path)
            if definition.scope:
                qualified[(definition.scope, definition.name)].add(path)
    return defines, qualified


def _restart(
    tags: Mapping[str, FileTags],
    focus: Focus,
    touched: set[str],
    defines: Mapping[str, set[str]],
    qualified: Mapping[tuple[str, str], set[str]],
) -> dict[str, float]:
    """The personalization vector: where the random walk restarts."""
    restart: dict[str, float] = defaultdict(float)
    for ident, weight in focus.idents.items():
        definers = defines.get(ident, ())
        for path in definers:  # a name defined once points at one file; defined in 50, at none
            restart[path] += weight / len(definers) ** 2
    for pair in focus.qualified:
        definers = qualified.get(pair, ())
        for path in definers:
            restart[path] += QUALIFIED / len(definers)
    stems = {ident.lower() for ident in focus.idents if len(ident) >= 4}
    for path in tags:
        if focus.paths and any(path == p or path.endswith("/" + p) for p in focus.paths):
            restart[path] += PATH_MENTION
        if stems and stems.intersection(_path_words(path)):
            restart[path] += STEM_MATCH
        if path in touched:
            restart[path] += TOUCHED
    return dict(restart)


def _path_words(path: str) -> list[str]:
    """Folder names and the file's stem, lowercased: `django/db/models/query.py` → …, `query`."""
    words = path.lower().split("/")
    words[-1] = words[-1].rsplit(".", 1)[0]
    return words


def _ident_weights(defines: Mapping[str, set[str]], focus: Focus) -> dict[str, float]:
    weights = {}
    for ident, definers in defines.items():
        mentioned = ident in focus.idents
        if len(definers) > MAX_DEFINERS and not mentioned:
            continue
        weight = 1.0
        if mentioned:
            weight *= 10
        if len(ident) >= 8 and ("_" in ident or not ident.islower()):
            weight *= 10  # long compound names are specific
        if ident.startswith("_"):
            weight *= 0.1
        if len(definers) > 5:
            weight *= 0.1
        weights[ident] = weight
    return weights


def _edges(
    tags: Mapping[str, FileTags], defines: Mapping[str, set[str]], weights: Mapping[str, float]
) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    edges: dict[tuple[str, str], float] = defaultdict(float)
    out_weight: dict[str, float] = defaultdict(float)
    for src, file_tags in tags.items():
        for ident, count in file_tags.refs.items():
            weight = weights.get(ident)
            if weight is None:
                continue
            weight *= math.sqrt(count)
            definers = defines[ident]
            for dst in definers:
                edges[(src, dst)] += weight
            out_weight[src] += weight * len(definers)
    return edges, out_weight


def _def_rank(
    tags: Mapping[str, FileTags],
    defines: Mapping[str, set[str]],
    weights: Mapping[str, float],
    out_weight: Mapping[str, float],
    rank: Mapping[str, float],
) -> dict[tuple[str, str], float]:
    """Spread each file's rank over the definitions it references, in proportion to edge weight."""
    inflow: dict[str, float] = defaultdict(float)
    for src, file_tags in tags.items():
        total = out_weight.get(src)
        if not total:
            continue
        share = rank.get(src, 0.0) / total
        for ident, count in file_tags.refs.items():
            weight = weights.get(ident)
            if weight is not None:
                inflow[ident] += weight * math.sqrt(count) * share
    return {(path, ident): flow for ident, flow in inflow.items() for path in defines[ident]}


def _focus_defs(
    focus: Focus, defines: Mapping[str, set[str]], qualified: Mapping[tuple[str, str], set[str]]
) -> set[tuple[str, str]]:
    named = {
        (path, ident)
        for ident in focus.idents
        if len(defines.get(ident, ())) <= MAX_DEFINERS
        for path in defines.get(ident, ())
    }
    named.update((path, pair[1]) for pair in focus.qualified for path in qualified.get(pair, ()))
    return named
