#!/usr/bin/env bash
# The reference reproduction's sweep (hours; run it in the background, e.g. with nohup): every run of the grids in
# grids/reference/, section by section in the order the book needs them, into a working results folder that keeps
# weights and caches (git-ignored). It resumes where it stopped: finished runs are kept, failed ones retried, and a
# run already in the committed reference store (REFERENCE, default reference/) is not run again.
# `python -m repro reference export` then copies the finished records into reference/ (committed, never overwritten).
#   REPRO_DATA_DIR=../shared/data nohup bash scripts/reference_sweep.sh > reference-sweep.log 2>&1 &
# Settings: WORKERS (runs at once, one torch thread each; default 2), RESULTS (default results/reference-work),
# SECTIONS (default: all, in the order below), REFERENCE.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${REPRO_DATA_DIR:?set REPRO_DATA_DIR to the raw data folder (German CoNLL-2003 is not on the hub)}"
WORKERS=${WORKERS:-2}
RESULTS=${RESULTS:-results/reference-work}
SECTIONS=${SECTIONS:-"selection_strategies subset_size lora_rank regularization generality task_similarity"}
PYTHON=${PYTHON:-.venv/bin/python}
REFERENCE=${REFERENCE:-reference}
for section in $SECTIONS; do
  echo "== $(date -u +%FT%TZ) $section"
  "$PYTHON" -m repro sweep "grids/reference/$section.yaml" --dry-run --data-dir "$REPRO_DATA_DIR" --results-dir "$RESULTS" --reference "$REFERENCE"
  "$PYTHON" -m repro sweep "grids/reference/$section.yaml" --executor "local:workers=$WORKERS" \
    --data-dir "$REPRO_DATA_DIR" --results-dir "$RESULTS" --reference "$REFERENCE" || echo "== $section: some runs failed (retried next time)"
done
echo "== $(date -u +%FT%TZ) done"
