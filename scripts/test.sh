#!/usr/bin/env bash
# The test command of the README and of CI: set up .venv with the test and benchmark extras (the
# benchmark harness's quick suite is part of the tests), then run pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k learning).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh test,bench,dashboard,logging,cli,ray,llm
scripts/install_system_deps.sh
exec .venv/bin/python -m pytest "$@"
