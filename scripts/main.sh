#!/usr/bin/env bash
# The main job on a fresh machine: set up, run every page of the book on its defaults (the findings
# page last), build the book. NOTEBOOKS="01_selection_strategies 03_subset_size" runs only those
# (and the findings page); extra arguments go to papermill (scripts/run_notebooks.sh).
# Data: REPRO_DATA_DIR names the raw data folder (else the Hugging Face hub is used).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/run_notebooks.sh "$@"
.venv/bin/jupyter-book build book
echo "The book: book/_build/html/index.html"
