#!/usr/bin/env bash
# Debian packages the tests need: PostgreSQL's server binaries (the distributed tests start a
# throwaway server on 127.0.0.1). Installs only what is missing; needs root (or sudo) for apt-get.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || { echo "PostgreSQL missing and no root: install Debian's postgresql package" >&2; exit 0; }
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql >/dev/null
# The package starts a cluster of its own; the tests do not use it.
$SUDO service postgresql stop >/dev/null 2>&1 || true
