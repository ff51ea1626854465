#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests, benchmarks and the crash test.
#
#   scripts/postgres.sh start DIR [--durable]   prints the admin URL (postgres://…/postgres)
#   scripts/postgres.sh createdb DIR NAME       creates database NAME there, prints its URL
#   scripts/postgres.sh stop DIR                stops it and removes DIR
#
# It installs Debian's `postgresql` package when no server binaries are found, runs `initdb`
# in DIR as the unprivileged `postgres` user (PostgreSQL refuses to run as root, and CI is
# root), and starts the server on a free loopback port with its Unix socket in DIR. Without
# --durable, fsync is off: the tests never survive a power cut anyway, and each test creates
# a database. The crash test passes --durable.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [[ -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
    done
    return 1
}

as_postgres() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local dir=$1 durable=${2:-}
    local bin
    if ! bin=$(find_bin); then
        echo "postgres.sh: installing Debian's postgresql package" >&2
        if [[ "$(id -u)" != 0 ]]; then die "PostgreSQL is not installed; run: apt-get install -y postgresql"; fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        bin=$(find_bin) || die "no PostgreSQL server binaries after installing"
    fi
    if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres "$dir"
        runuser -u postgres -- test -w "$dir" \
            || die "$dir: the postgres user cannot reach it (a parent folder is private); use a folder under /tmp"
    fi
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync \
        --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    local options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400"
    options+=" -c shared_buffers=128MB"
    if [[ "$durable" != "--durable" ]]; then
        options+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 -o "$options" start >/dev/null \
        || { cat "$dir/pg.log" >&2; die "the server did not start"; }
    echo "$port" >"$dir/port"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
}

createdb() {
    local dir=$1 name=$2 bin port
    bin=$(find_bin) || die "no PostgreSQL server binaries"
    port=$(cat "$dir/port")
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$name"
    echo "postgres://postgres@127.0.0.1:$port/$name"
}

stop() {
    local dir=$1
    local bin
    bin=$(find_bin) || exit 0
    if [[ -d "$dir/data" ]]; then
        as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) [[ $# -ge 2 ]] || die "usage: $0 start DIR [--durable]"; start "$2" "${3:-}" ;;
    createdb) [[ $# -eq 3 ]] || die "usage: $0 createdb DIR NAME"; createdb "$2" "$3" ;;
    stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR [--durable] | createdb DIR NAME | stop DIR" ;;
esac
