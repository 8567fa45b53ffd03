#!/usr/bin/env bash
# The main job on a fresh machine: set up, run 03_subset_size on its defaults, build the book
# (the other pages show how to run them; NOTEBOOKS="01_selection_strategies 03_subset_size" runs more).
# Data: REPRO_DATA_DIR names the raw data folder (else the Hugging Face hub is used).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
NOTEBOOKS=${NOTEBOOKS:-03_subset_size} bash scripts/run_notebooks.sh "$@"
.venv/bin/jupyter-book build book
echo "The book: book/_build/html/index.html"
