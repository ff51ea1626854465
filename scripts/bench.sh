#!/usr/bin/env bash
# The load benchmark: builds the release server and emporium-bench, seeds a fresh database
# with N products (default 10,000), starts the server on it, and drives every scenario at
# fixed concurrency, printing req/s, p50, p99, errors and the server's peak RSS (also written
# as JSON). Extra arguments go to `emporium-bench run`:
#
#   scripts/bench.sh                          # 10,000 products, 32 connections, 10 s each
#   scripts/bench.sh --products 1000000 --out bench-1m.json
#   scripts/bench.sh --only list,search --duration 20
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins
exec target/release/emporium-bench run "$@"
