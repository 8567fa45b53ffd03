#!/usr/bin/env bash
# Set up, then run the fast test suite (slow integration tests: add `-m slow`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest "$@"
