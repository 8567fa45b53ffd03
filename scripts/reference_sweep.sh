#!/usr/bin/env bash
# The reference reproduction's sweep (hours; run it in the background, e.g. with nohup): every run of the grids in
# grids/reference/, section by section in the order the book needs them, into a working results folder that keeps
# weights and caches (git-ignored); then the pages whose results are more than their grid's runs (section 4's
# secondary runs and probes, the mask summaries of 01 and 08), each executed with `-p retrain missing`.
# It resumes where it stopped: finished runs are kept, failed ones retried, and a run already in the committed
# reference store (REFERENCE, default reference/) is not run again (a section-4 page re-runs a stored primary only
# to get its tuned weights back while a secondary run from it is missing; on another CPU model its result may
# differ, and export then files it under reference/remade/).
# `python -m repro reference export` then copies the finished records into reference/ (committed, never overwritten).
#   REPRO_DATA_DIR=../shared/data nohup bash scripts/reference_sweep.sh > reference-sweep.log 2>&1 &
# Settings: WORKERS (runs at once, one torch thread each; default 2), RESULTS (default results/reference-work),
# SECTIONS (default: all, in the order below), PAGES (default: the pages below; "" for none), REFERENCE.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${REPRO_DATA_DIR:?set REPRO_DATA_DIR to the raw data folder (German CoNLL-2003 is not on the hub)}"
WORKERS=${WORKERS:-2}
RESULTS=${RESULTS:-results/reference-work}
SECTIONS=${SECTIONS:-"selection_strategies subset_size lora_rank regularization generality task_similarity"}
PAGES=${PAGES-"01_selection_strategies 04_generality 05_task_similarity 06_lora_rank 07_regularization 08_change_magnitude"}
PYTHON=${PYTHON:-.venv/bin/python}
REFERENCE=${REFERENCE:-reference}
for section in $SECTIONS; do
  echo "== $(date -u +%FT%TZ) $section"
  "$PYTHON" -m repro sweep "grids/reference/$section.yaml" --dry-run --data-dir "$REPRO_DATA_DIR" --results-dir "$RESULTS" --reference "$REFERENCE"
  "$PYTHON" -m repro sweep "grids/reference/$section.yaml" --executor "local:workers=$WORKERS" \
    --data-dir "$REPRO_DATA_DIR" --results-dir "$RESULTS" --reference "$REFERENCE" || echo "== $section: some runs failed (retried next time)"
done
mkdir -p "$RESULTS/pages"
for page in $PAGES; do
  echo "== $(date -u +%FT%TZ) page $page"
  "$PYTHON" -m papermill "notebooks/$page.ipynb" "$RESULTS/pages/$page.ipynb" --no-progress-bar \
    -p profile reference -p retrain missing -p results_dir "$RESULTS" -p reference_dir "$REFERENCE" \
    -p data_dir "$REPRO_DATA_DIR" -p executor "local:workers=$WORKERS" || echo "== page $page failed (retried next time)"
done
echo "== $(date -u +%FT%TZ) done"
