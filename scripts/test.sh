#!/usr/bin/env bash
# Every test, on both database backends: the README's test command, and what CI runs.
#
#   scripts/test.sh                 # SQLite, then PostgreSQL
#   scripts/test.sh --sqlite        # SQLite only (no PostgreSQL needed)
#   scripts/test.sh --postgres      # PostgreSQL only
#   scripts/test.sh -- auth::       # extra arguments go to `cargo test --workspace`
#
# The SQLite half needs nothing. For the PostgreSQL half this script starts a throw-away
# server of its own (scripts/postgres.sh: installs Debian's postgresql package if no server
# binaries are found, initdb in a temporary folder as the unprivileged postgres user, a free
# port) and points the tests at it with EMPORIUM_TEST_POSTGRES_URL: every test then creates a
# fresh database from a migrated template and drops it afterwards. The server is stopped and
# its folder removed at the end, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."

backends=(sqlite postgres)
case "${1:-}" in
    --sqlite) backends=(sqlite); shift ;;
    --postgres) backends=(postgres); shift ;;
esac
[[ "${1:-}" == "--" ]] && shift

for backend in "${backends[@]}"; do
    if [[ "$backend" == sqlite ]]; then
        echo "== cargo test --workspace (SQLite)"
        env -u EMPORIUM_TEST_POSTGRES_URL cargo test --workspace "$@"
    else
        dir=$(mktemp -d "${TMPDIR:-/tmp}/emporium-pg.XXXXXX")
        trap 'scripts/postgres.sh stop "$dir"' EXIT
        url=$(scripts/postgres.sh start "$dir")
        echo "== cargo test --workspace (PostgreSQL, $url)"
        EMPORIUM_TEST_POSTGRES_URL="$url" cargo test --workspace "$@"
    fi
done
