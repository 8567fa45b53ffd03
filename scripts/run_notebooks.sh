#!/usr/bin/env bash
# Execute the book's notebooks with papermill into book/executed/.
# NOTEBOOKS picks which (names without .ipynb; default: every notebook in notebooks/).
# Extra arguments go to papermill, e.g.: bash scripts/run_notebooks.sh -p profile paper
# A notebook not executed shows in the book as a page that says so (book/_ext/book_guard.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p book/executed
NOTEBOOKS=${NOTEBOOKS:-$(ls notebooks/*.ipynb | xargs -n1 basename | sed 's/\.ipynb$//')}
for notebook in $NOTEBOOKS; do
  if [ ! -f "notebooks/$notebook.ipynb" ]; then
    echo "no notebook notebooks/$notebook.ipynb; available: $(ls notebooks | tr '\n' ' ')" >&2
    exit 2
  fi
  .venv/bin/papermill "notebooks/$notebook.ipynb" "book/executed/$notebook.ipynb" --cwd . "$@"
done
