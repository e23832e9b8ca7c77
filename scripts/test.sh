#!/usr/bin/env bash
# The test command of the README and of CI: set up .venv with the test and benchmark extras (the
# benchmark harness's quick suite is part of the tests), install the Debian packages the tests need,
# run the lint and type checks (scripts/lint.sh: ruff and mypy), then pytest. Both always run; the
# exit status is non-zero when either fails.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not slow" for the fast tier, or -k learning).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh test,bench,dashboard,logging,cli,ray,llm
scripts/install_system_deps.sh
lint=0
scripts/lint.sh || lint=$?
tests=0
.venv/bin/python -m pytest "$@" || tests=$?
[ "$lint" = 0 ] || echo "scripts/lint.sh failed (exit $lint): run scripts/lint.sh --fix, then fix what remains" >&2
[ "$tests" = 0 ] && [ "$lint" = 0 ]
