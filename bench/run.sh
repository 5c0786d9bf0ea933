#!/usr/bin/env bash
# The load benchmark: builds the release binary, installs wrk if needed, and runs bench/run.py
# on a fresh SQLite database (or PostgreSQL: bench/run.sh --database-url postgres://…).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is needed: sudo apt-get install wrk" >&2
    exit 1
  fi
fi
cargo build --release --locked --bin gatehouse
exec python3 bench/run.py "$@"
