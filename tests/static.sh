#!/usr/bin/env bash
# The static checks: style, layers, types. Fast (about a minute), no Docker, no engine.
# Usage: bash tests/static.sh   (tests/run.sh runs it first; run it yourself before a commit)
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m ruff check .
python3 -m ruff format --check .

# The import package `qcode` is assembled from top-level folders (pyproject package-dir), a mapping
# neither mypy nor import-linter can read: check a hard-linked tree shaped like the installed package.
tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/qcode"
cp -rl qcode/. "$tree/qcode/"
for folder in agent tools sandbox prompts evals; do cp -rl "$folder" "$tree/qcode/$folder"; done
find "$tree" -name __pycache__ -prune -exec rm -rf {} +

# Both run inside the tree: import-linter puts the working directory first on sys.path.
(cd "$tree" && python3 -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())" --config ../../pyproject.toml)
(cd "$tree" && python3 -m mypy --config-file ../../pyproject.toml --cache-dir ../../.mypy_cache -p qcode)
