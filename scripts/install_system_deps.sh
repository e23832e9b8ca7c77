#!/usr/bin/env bash
# Debian packages the tests need, installed only when missing: PostgreSQL's server binaries (the
# distributed tests start a throwaway server on 127.0.0.1), Chromium (the optuna-dashboard test
# drives it headless through Playwright) and tmux (the command line's live view is read back from a
# real terminal of 80x24 and 120x40). Needs root (or sudo) for apt-get.
set -euo pipefail
missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
if ! command -v tmux >/dev/null 2>&1; then
  missing+=(tmux)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || { echo "Missing Debian packages and no root: install ${missing[*]}" >&2; exit 0; }
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
# The postgresql package starts a cluster of its own; the tests do not use it.
$SUDO service postgresql stop >/dev/null 2>&1 || true
