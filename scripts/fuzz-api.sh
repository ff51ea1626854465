#!/usr/bin/env bash
# Contract fuzzing: schemathesis against the server's own /openapi.json, with every check, as a
# shopper and then as an admin, on a fresh database with the demo catalog.
#
#   scripts/fuzz-api.sh              # FUZZ_MAX_EXAMPLES=25 per operation (CI)
#   FUZZ_MAX_EXAMPLES=200 scripts/fuzz-api.sh
#   scripts/fuzz-api.sh --database postgres   # the server on PostgreSQL (started by the script)
#
# Installs schemathesis from PyPI into .venv on first use. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE=sqlite
if [[ "${1:-}" == "--database" ]]; then DATABASE="${2:-}"; fi
case "$DATABASE" in sqlite|postgres) ;; *) echo "fuzz-api.sh: --database is sqlite or postgres" >&2; exit 2 ;; esac

EXAMPLES="${FUZZ_MAX_EXAMPLES:-25}"
SCHEMATHESIS_VERSION="4.32.5"
VENV=".venv"
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "== installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --workspace --bins --quiet
BIN="$PWD/target/debug/emporium"

WORK="$(mktemp -d)"
SERVER_PID=""
PGDIR=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [ -n "$PGDIR" ]; then scripts/postgres.sh stop "$PGDIR"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ "$DATABASE" == postgres ]]; then
    # Its own folder under /tmp: the postgres user must reach it (WORK is root-only).
    PGDIR="$(mktemp -d)"
    scripts/postgres.sh start "$PGDIR" >/dev/null
    DATABASE_URL="$(scripts/postgres.sh createdb "$PGDIR" fuzz)"
else
    DATABASE_URL="sqlite://$WORK/fuzz.db"
fi
echo "== fuzzing the server on $DATABASE"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export HOST=127.0.0.1 PORT DATABASE_URL EMAIL_BACKEND=log RUST_LOG=warn \
    SQLITE_SYNCHRONOUS=NORMAL LOGIN_MAX_FAILURES_PER_EMAIL=0 LOGIN_MAX_FAILURES_PER_IP=0 \
    MAIL_REQUESTS_MAX_PER_IP=0
BASE="http://127.0.0.1:$PORT"

(cd "$WORK" && "$BIN" demo) > "$WORK/demo.txt"
(cd "$WORK" && exec "$BIN" serve) > "$WORK/server.log" 2>&1 &
SERVER_PID=$!

python3 - "$BASE" <<'PY'
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(sys.argv[1] + "/ready", timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the server did not become ready")
PY

token() {
    python3 - "$BASE" "$1" "$2" <<'PY'
import json, sys, urllib.request
body = json.dumps({"email": sys.argv[2], "password": sys.argv[3]}).encode()
request = urllib.request.Request(sys.argv[1] + "/auth/signin", body, {"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(request))["access_token"])
PY
}
SHOPPER="$(token shopper@demo.example demo-shopper-password)"
ADMIN="$(token admin@demo.example demo-admin-password)"

status=0
# Operations that end the caller's own session would leave the rest of the run unauthenticated.
KEEP_SESSION=(--exclude-operation-id logout --exclude-operation-id change_password)
run() {
    local who="$1" token="$2"
    echo "== schemathesis as $who ($EXAMPLES examples per operation)"
    "$VENV/bin/st" --config-file scripts/schemathesis.toml run "$BASE/openapi.json" \
        --checks all --max-examples "$EXAMPLES" --seed 20261126 \
        --header "Authorization: Bearer $token" "${KEEP_SESSION[@]}" \
        --request-timeout 10 --suppress-health-check all \
        || status=1
}
run shopper "$SHOPPER"
run admin "$ADMIN"
# logout and change-password, last, with a session of their own.
echo "== schemathesis: session-ending operations"
"$VENV/bin/st" --config-file scripts/schemathesis.toml run "$BASE/openapi.json" \
    --checks all --max-examples "$EXAMPLES" --seed 20261126 \
    --header "Authorization: Bearer $(token shopper@demo.example demo-shopper-password)" \
    --include-operation-id logout --include-operation-id change_password \
    --phases examples,coverage,fuzzing --request-timeout 10 --suppress-health-check all || status=1

if grep -q "panicked" "$WORK/server.log"; then
    echo "the server panicked:"; grep -A5 panicked "$WORK/server.log"; status=1
fi
exit "$status"
