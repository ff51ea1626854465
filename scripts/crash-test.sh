#!/usr/bin/env bash
# Crash safety, on both backends. Builds the release server, then:
# - SQLite, 5 rounds: starts it on a fresh database, runs concurrent checkouts, kills it with
#   SIGKILL mid-load, checks PRAGMA integrity_check, that every order answered 201 exists with
#   its lines, and that for every product initial stock = current stock + units sold; then
#   restarts it.
# - PostgreSQL, 3 rounds: two servers on one fresh database (on a throw-away PostgreSQL server
#   this script starts, fsync on), buyers spread over both, one killed with SIGKILL mid-load:
#   the survivor must keep taking orders, and the same checks hold for every order either
#   server acknowledged.
#   scripts/crash-test.sh [--sqlite|--postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins
backends=(sqlite postgres)
case "${1:-}" in
    --sqlite) backends=(sqlite) ;;
    --postgres) backends=(postgres) ;;
esac
for backend in "${backends[@]}"; do
    if [[ "$backend" == sqlite ]]; then
        echo "-- SQLite: one server, killed and restarted"
        target/release/emporium-bench crash --rounds "${CRASH_ROUNDS:-5}"
    else
        dir=$(mktemp -d "${TMPDIR:-/tmp}/emporium-pg.XXXXXX")
        trap 'scripts/postgres.sh stop "$dir"' EXIT
        url=$(scripts/postgres.sh start "$dir" --durable)
        echo "-- PostgreSQL: two servers, one killed"
        target/release/emporium-bench crash --rounds "${CRASH_ROUNDS_POSTGRES:-3}" --postgres "$url"
    fi
done
