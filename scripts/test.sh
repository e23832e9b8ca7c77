#!/usr/bin/env bash
# The test command of the README and of CI: set up .venv with the test and benchmark extras (the
# benchmark harness's quick suite is part of the tests), install the Debian packages the tests need,
# run the lint and type checks (scripts/lint.sh: ruff and mypy), then pytest. Both always run; the
# exit status is non-zero when either fails.
# pytest runs both tiers: the package's tests (tests/) and the benchmark harness's (benchmarks/tests/: its quick
# suite, the README and docs freshness checks). Extra arguments go to pytest (e.g. -m "not slow", -k learning, or
# a test file or folder given as a path, tests/test_sampler.py or benchmarks/tests/, which then replaces the two).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh test,bench,dashboard,logging,cli,ray,llm
scripts/install_system_deps.sh
lint=0
scripts/lint.sh || lint=$?
tests=0
paths=(tests benchmarks/tests)
for arg in "$@"; do  # a test file or folder was named (a path with a slash, or a .py file): run just that
  if [[ ( "$arg" == */* || "$arg" == *.py* ) && -e "${arg%%::*}" ]]; then paths=(); fi
done
.venv/bin/python -m pytest "${paths[@]}" "$@" || tests=$?
[ "$lint" = 0 ] || echo "scripts/lint.sh failed (exit $lint): run scripts/lint.sh --fix, then fix what remains" >&2
[ "$tests" = 0 ] && [ "$lint" = 0 ]
