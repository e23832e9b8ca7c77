#!/usr/bin/env bash
# Regenerate docs/lora_cli_example/: proof that the text_classification task runs end to end from the
# command line. The console output, evaluation.json and summary.md of
#   cascaderl-optuna optimize --task text_classification --data ../shared/data/sst2 --trials 3 --seed 0 --eval-seeds 1
# run in a fresh temporary folder (default storage, default report folder). Three trials only, to keep
# it to a few minutes on one CPU core; the README's benchmark (benchmarks/lora_sst2.py) is the real
# comparison. Needs the cli and llm extras (scripts/setup_env.sh cli,llm).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/lora_cli_example"
# VENV: the virtual environment to run (default .venv of this checkout; a git worktree may use another's).
exe="${VENV:-$PWD/.venv}/bin/cascaderl-optuna"
data="$(cd .. && pwd)/shared/data/sst2"
mkdir -p "$out"
# The command runs in a temporary folder: make it import this checkout's package (a git worktree shares the
# .venv of another checkout, whose editable install points there).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
COLUMNS=160 "$exe" optimize --task text_classification --data "$data" --trials 3 --seed 0 --eval-seeds 1 \
  | tee "$out/console.txt"
cp reports/evaluation.json reports/summary.md "$out/"
