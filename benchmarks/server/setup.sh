#!/bin/sh
# System tools for the server benchmarks (Debian): the load generator and the nginx ceiling.
# Run once as root after the README's set-up: benchmarks/server/setup.sh
set -eu
if command -v wrk >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1; then
    echo "wrk and nginx are installed"
    exit 0
fi
apt-get update
apt-get install -y --no-install-recommends wrk nginx
