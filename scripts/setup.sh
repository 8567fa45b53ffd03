#!/usr/bin/env bash
# Create .venv (if missing) and install the project into it. Idempotent; sourced or run.
# torch is installed first and pinned (REPRO_TORCH, default torch==2.13.0): on this project's
# CPU machines that pin resolves to a CPU build already on disk, so the project's own
# `torch>=2.6,<2.15` requirement is satisfied and no multi-GB CUDA build is pulled in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${REPRO_TORCH:-torch==2.13.0}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  pip_install "$TORCH_SPEC"
fi
pip_install -c requirements-lock.txt -e ".[dev]"
