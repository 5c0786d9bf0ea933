#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the integration suite. The suite runs
# on SQLite always and on PostgreSQL too when GATEHOUSE_TEST_DATABASE_URL is set, e.g.
#   GATEHOUSE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test ./tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo build"
cargo build --all-targets --locked
if [ -n "${GATEHOUSE_TEST_DATABASE_URL:-}" ]; then
  echo "== suite on SQLite and PostgreSQL"
else
  echo "== suite on SQLite (set GATEHOUSE_TEST_DATABASE_URL to include PostgreSQL)"
fi
cargo test --locked --all-targets
