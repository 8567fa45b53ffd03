#!/usr/bin/env bash
# Execute the book's notebooks with papermill into book/executed/.
# NOTEBOOKS picks which (names without .ipynb; default: every notebook in notebooks/). The landing
# page, notebooks/00_findings, sums up the results the other pages left, so it always runs, last.
# Extra arguments go to papermill, e.g.: bash scripts/run_notebooks.sh -p profile paper
# A parameter (-p/-r NAME VALUE) goes to the notebooks that declare it (a notebook refuses others:
# repro/report/parameters.py); a name that none of them declares stops the script before any runs.
# A notebook not executed shows in the book as a page that says so (book/_ext/book_guard.py).
# Each executed notebook is stored without its stderr (progress bars, warnings) and widget outputs
# (scripts/clean_executed.py); the run's progress shows on this terminal, cell by cell.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p book/executed
FINDINGS=00_findings
NOTEBOOKS=${NOTEBOOKS:-$(ls notebooks/*.ipynb | xargs -n1 basename | sed 's/\.ipynb$//')}
if [ -f "notebooks/$FINDINGS.ipynb" ]; then
  NOTEBOOKS="$(printf '%s\n' $NOTEBOOKS | { grep -vx "$FINDINGS" || true; } | tr '\n' ' ')$FINDINGS"
fi
for notebook in $NOTEBOOKS; do
  if [ ! -f "notebooks/$notebook.ipynb" ]; then
    echo "no notebook notebooks/$notebook.ipynb; available: $(ls notebooks | tr '\n' ' ')" >&2
    exit 2
  fi
done
declare -A DECLARED  # notebook -> " name name ... " of its parameters cell
declared=$(.venv/bin/python -c 'import sys; from repro.report.parameters import declared_parameters
for name in sys.argv[1:]: print(name, *sorted(declared_parameters(f"notebooks/{name}.ipynb")))' $NOTEBOOKS)
while read -r notebook names; do DECLARED[$notebook]=" $names "; done <<< "$declared"
arguments=("$@")
for ((i = 0; i < ${#arguments[@]}; i++)); do
  case "${arguments[i]}" in
    -p|-r|--parameters|--parameters_raw)
      if [[ "${DECLARED[*]}" != *" ${arguments[i + 1]:-} "* ]]; then
        echo "no notebook of ($(echo $NOTEBOOKS)) declares the parameter '${arguments[i + 1]:-}'" >&2
        exit 2
      fi
      i=$((i + 2)) ;;
  esac
done
for notebook in $NOTEBOOKS; do
  own=()  # this notebook's arguments: the parameters it declares and every other option
  for ((i = 0; i < ${#arguments[@]}; i++)); do
    case "${arguments[i]}" in
      -p|-r|--parameters|--parameters_raw)
        if [[ "${DECLARED[$notebook]}" == *" ${arguments[i + 1]} "* ]]; then own+=("${arguments[@]:i:3}"); fi
        i=$((i + 2)) ;;
      *) own+=("${arguments[i]}") ;;
    esac
  done
  .venv/bin/papermill "notebooks/$notebook.ipynb" "book/executed/$notebook.ipynb" --cwd . ${own[@]+"${own[@]}"}
  .venv/bin/python scripts/clean_executed.py "book/executed/$notebook.ipynb"
done
