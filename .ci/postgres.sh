#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for CI and local test runs.
#
#   .ci/postgres.sh [start [DIR [PORT]]]   install Debian's postgresql if needed, create (or reuse)
#                                          the cluster in DIR (default: a new temp dir) on PORT
#                                          (default: a free one); the LAST stdout line is the URL
#                                          postgresql+asyncpg://salespulse:PASS@127.0.0.1:PORT/salespulse
#   .ci/postgres.sh stop DIR               stop that cluster and remove DIR
#
# The role `salespulse` has CREATEDB: the tests make one database per test. The cluster runs
# with fsync off: it is for tests only and is deleted on stop. Progress goes to stderr.
set -euo pipefail

MARKER=.salespulse-postgres   # only a DIR holding this file is ever stopped and removed
DB=salespulse
DB_USER=salespulse

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/psql" ]]; then echo "$d"; fi
}

ensure_installed() {
  if [[ -z "$(pg_bindir)" ]]; then
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and only root can install it (apt-get install postgresql)"
    say "installing Debian's postgresql package ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  BIN=$(pg_bindir)
  [[ -n "$BIN" ]] || die "no initdb/pg_ctl/psql under /usr/lib/postgresql/*/bin after installing"
}

# root cannot run the server: everything that touches the cluster runs as the postgres OS user
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (the postgresql package creates it)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

psql_admin() {  # psql_admin DIR PORT ARGS...: superuser over the cluster's own unix socket
  local dir=$1 port=$2; shift 2
  as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@"
}

running() { [[ -f "$1/data/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1; }

start() {
  local dir=${1:-} port=${2:-}
  ensure_installed
  if [[ -z "$dir" ]]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/salespulse-pg-XXXXXX")
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  touch "$dir/$MARKER"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir" && chmod 0755 "$dir"

  if [[ -f "$dir/port" ]]; then
    [[ -z "$port" || "$port" == "$(cat "$dir/port")" ]] || die "$dir already holds a cluster on port $(cat "$dir/port")"
    port=$(cat "$dir/port")
  fi
  port=${port:-$(free_port)}

  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    say "initdb in $dir/data ($("$BIN/postgres" --version))"
    as_pg "$BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
# salespulse test cluster: loopback only, socket in its own dir, durability off (throwaway)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    echo "$port" >"$dir/port"
  fi

  if ! running "$dir"; then
    say "starting on 127.0.0.1:$port"
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
      || { tail -30 "$dir/postgres.log" >&2; die "pg_ctl start failed"; }
  fi

  if [[ ! -f "$dir/password" ]]; then
    python3 -c 'import secrets; print(secrets.token_hex(12))' >"$dir/password"
    chmod 0600 "$dir/password"
  fi
  local pass
  pass=$(cat "$dir/password")
  if [[ -z "$(psql_admin "$dir" "$port" -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" ]]; then
    psql_admin "$dir" "$port" -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$pass'"
  fi
  if [[ -z "$(psql_admin "$dir" "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
    psql_admin "$dir" "$port" -c "CREATE DATABASE $DB OWNER $DB_USER"
  fi
  say "ready; stop with: $0 stop $dir"
  echo "$dir"
  echo "postgresql+asyncpg://$DB_USER:$pass@127.0.0.1:$port/$DB"
}

stop() {
  local dir=${1:-}
  [[ -n "$dir" ]] || die "usage: $0 stop DIR"
  [[ -d "$dir" ]] || { say "$dir does not exist: nothing to stop"; return 0; }
  [[ -f "$dir/$MARKER" ]] || die "$dir was not made by this script; not touching it"
  BIN=$(pg_bindir)
  if [[ -n "$BIN" ]] && running "$dir"; then
    as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null \
      || as_pg "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  fi
  rm -rf "$dir"
  say "stopped and removed $dir"
}

case "${1:-start}" in
  start) shift || true; start "$@" ;;
  stop) shift; stop "$@" ;;
  -h|--help) sed -n '2,12p' "$0" ;;
  *) die "unknown command '$1' (start | stop DIR)" ;;
esac
