#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the package into it.
# Usage: scripts/setup_env.sh [extra,...]    e.g. scripts/setup_env.sh test
# The CPU build of torch is installed first: a plain `torch` requirement would pull a multi-GB
# CUDA build. The install is skipped when .venv already holds this pyproject.toml with these
# extras (a stamp file records both), so repeated commands start at once.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.cascaderl-installed"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1) ${extras}"
# A stamp for a superset of the extras (the test command's) serves a smaller request as well.
if [ -f "$stamp" ]; then
  read -r have_hash have_extras < "$stamp" || true
  if [ "$have_hash" = "${want%% *}" ]; then
    ok=1
    IFS=',' read -ra asked <<< "$extras"
    for e in "${asked[@]}"; do
      [[ ",${have_extras:-}," == *",$e,"* ]] || ok=0
    done
    [ "$ok" = 1 ] && exit 0
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[${extras}]"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "$want" > "$stamp"
