#!/usr/bin/env bash
# Lint and type checks: ruff (lint and format) over the package, the benchmarks, the tests and the
# OptunaHub folder; mypy over the package (its settings: pyproject.toml; optunahub/ has the
# registry's own, checked by tests/test_optunahub.py). Every tool runs even when one fails; the exit
# status is non-zero when any of them found something.
#   scripts/lint.sh          check only
#   scripts/lint.sh --fix    apply ruff's safe fixes and the formatter first, then check
# PYTHON picks the interpreter (default .venv/bin/python, set up by scripts/setup_env.sh test).
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
paths=(cascaderl_optuna benchmarks tests examples scripts conftest.py optunahub)
if [ "${1:-}" = "--fix" ]; then
  "$PY" -m ruff check --fix "${paths[@]}"
  "$PY" -m ruff format "${paths[@]}"
elif [ -n "${1:-}" ]; then
  echo "usage: scripts/lint.sh [--fix]" >&2
  exit 2
fi
status=0
echo "== ruff check"; "$PY" -m ruff check "${paths[@]}" || status=1
echo "== ruff format --check"; "$PY" -m ruff format --check "${paths[@]}" || status=1
echo "== mypy"; "$PY" -m mypy || status=1
exit "$status"
