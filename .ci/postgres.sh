#!/usr/bin/env bash
# Installs Debian's PostgreSQL (server binaries) for the server test suite, which starts its
# own throwaway cluster on a free port (tests/postgres.py). Idempotent; run as root or with sudo.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql
fi
# the package may start a system cluster on 5432; the tests never use it
$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
