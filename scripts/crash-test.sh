#!/usr/bin/env bash
# Crash safety: builds the release server, then 5 times over starts it on a fresh database,
# runs concurrent checkouts, kills it with SIGKILL mid-load and checks that the database
# passes PRAGMA integrity_check, that every order answered 201 exists with its lines, and that
# for every product initial stock = current stock + units sold; then restarts it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins
exec target/release/emporium-bench crash --rounds "${CRASH_ROUNDS:-5}"
