"""Repo map: a tree-sitter symbol graph of the repository, ranked for the task at hand.

    from qcode.tools.repomap import build_repo_map
    repo_map = build_repo_map(Path("."), focus="QuerySet.select_related drops fields", tokens=2048)
    print(repo_map.text)      # ranked files with their key signatures, within the budget
    repo_map.files            # the files shown, best first
    repo_map.notes            # skipped or partly parsed files, cache trouble

Definitions and references come from tag queries (queries/*.scm) run by tree-sitter; files
are ranked by personalized PageRank toward what the focus text names; parsed tags are cached
on disk so a rebuild re-parses only what changed.
"""

from qcode.tools.repomap.build import RepoMap, build_repo_map
from qcode.tools.repomap.cache import default_cache_dir
from qcode.tools.repomap.render import estimate_tokens

__all__ = ["RepoMap", "build_repo_map", "default_cache_dir", "estimate_tokens"]
