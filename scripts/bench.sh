#!/usr/bin/env bash
# The load benchmark: builds the release server and emporium-bench, seeds a fresh database
# with N products (default 10,000), starts the server(s) on it, and drives every scenario at
# fixed concurrency, printing req/s, p50, p99, errors and each server's peak RSS (also written
# as JSON). Extra arguments go to `emporium-bench run`:
#
#   scripts/bench.sh                          # SQLite, 10,000 products, 32 connections, 10 s each
#   scripts/bench.sh --products 1000000 --out bench-1m.json
#   scripts/bench.sh --only list,search --duration 20
#   scripts/bench.sh --database postgres               # PostgreSQL, one server
#   scripts/bench.sh --database postgres --servers 2   # two servers on one database
#   MALLOC_ARENA_MAX=1 scripts/bench.sh --only cart   # glibc MALLOC_* settings reach the server
#
# With --database postgres the script starts a throw-away PostgreSQL server of its own
# (scripts/postgres.sh, fsync on, as in production) and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
database=sqlite
while [[ $# -gt 0 ]]; do
    case "$1" in
        --database) database=$2; shift 2 ;;
        --database=*) database=${1#--database=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
cargo build --release --workspace --bins
case "$database" in
    sqlite) exec target/release/emporium-bench run "${args[@]}" ;;
    postgres)
        dir=$(mktemp -d "${TMPDIR:-/tmp}/emporium-pg.XXXXXX")
        trap 'scripts/postgres.sh stop "$dir"' EXIT
        url=$(scripts/postgres.sh start "$dir" --durable)
        target/release/emporium-bench run --postgres "$url" "${args[@]}"
        ;;
    *) echo "bench.sh: --database is sqlite or postgres" >&2; exit 2 ;;
esac
