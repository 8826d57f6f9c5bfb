#!/usr/bin/env bash
# Set up a virtual environment in .venv with attncc (editable) and its test dependencies.
# torch is installed first and pinned: the CPU wheel, so that nothing pulls CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip_install() {
  # pip's notes about this machine's local package folders are noise; real errors still show.
  .venv/bin/python -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}
pip_install torch==2.13.0
pip_install -e '.[test,bench]'
