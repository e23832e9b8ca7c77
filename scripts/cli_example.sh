#!/usr/bin/env bash
# Regenerate docs/cli_example/, the README's command-line example: the console output, evaluation.json
# and summary.md of `cascaderl-optuna optimize --task digits_mlp --trials 30 --seed 0`, run in a fresh
# temporary folder (default storage sqlite:///cascaderl.db, default report folder reports/). The
# report's HTML figures and plotly.min.js are not kept (several MB); run the command to see them.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/cli_example"
# VENV: the virtual environment to run (default .venv of this checkout; a git worktree may use another's).
exe="${VENV:-$PWD/.venv}/bin/cascaderl-optuna"
mkdir -p "$out"
# The command runs in a temporary folder: make it import this checkout's package (a git worktree shares the
# .venv of another checkout, whose editable install points there).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
COLUMNS=160 "$exe" optimize --task digits_mlp --trials 30 --seed 0 | tee "$out/console.txt"
cp reports/evaluation.json reports/summary.md "$out/"
