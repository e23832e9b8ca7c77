#!/usr/bin/env bash
# The README's main command: set up .venv and run the example study on an embedded SQLite file.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
exec .venv/bin/python examples/quickstart.py "$@"
