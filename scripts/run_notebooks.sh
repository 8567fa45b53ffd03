#!/usr/bin/env bash
# Execute every notebook of the book with papermill into book/executed/.
# Extra arguments go to papermill, e.g.: bash scripts/run_notebooks.sh -p profile paper
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p book/executed
for notebook in 03_subset_size; do
  .venv/bin/papermill "notebooks/$notebook.ipynb" "book/executed/$notebook.ipynb" --cwd . "$@"
done
