#!/usr/bin/env bash
# Loopback services for the scale-out executor (tests, benchmarks, a one-machine trial):
# a throwaway PostgreSQL server (Debian's `postgresql`, run as the postgres user) and an S3
# test server (npm s3rver, run with Deno).
#
#   bash scripts/services.sh install            # apt-get install postgresql if it is missing
#   bash scripts/services.sh start [--dir DIR]  # start both (idempotent); prints PG_URL= and S3_URL=
#   bash scripts/services.sh stop  [--dir DIR]  # stop both and remove DIR
#
# DIR defaults to /tmp/hicra-services. The S3 bucket is "hicra", the database "hicra".
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-start}
shift || true
dir=/tmp/hicra-services
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    *) echo "error: unknown option $1 (usage: services.sh install|start|stop [--dir DIR])" >&2; exit 2 ;;
  esac
done
deno=./node_modules/.bin/deno

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install() {
  if [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "error: PostgreSQL is not installed and installing it needs root (apt-get install -y postgresql)" >&2
    exit 3
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! command -v apt-get >/dev/null; then
    echo "error: PostgreSQL is not installed and apt-get is unavailable" >&2
    exit 3
  fi
  { apt-get update -qq && apt-get install -y -qq postgresql; } >/dev/null 2>&1 ||
    { echo "error: apt-get could not install postgresql (no network or no Debian mirror?)" >&2; exit 3; }
  [ -x "$(pg_bin)/initdb" ] || { echo "error: apt-get installed no PostgreSQL server" >&2; exit 3; }
}

free_port() { "$deno" eval 'const l = Deno.listen({ hostname: "127.0.0.1", port: 0 }); console.log(l.addr.port); l.close();'; }

# Runs a PostgreSQL binary as the postgres user when we are root (the server refuses root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  install
  mkdir -p "$dir"
  chmod 755 "$dir"
  local bin; bin=$(pg_bin)
  if ! alive "$dir/pg/postmaster.pid.copy" || ! as_pg "$bin/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
    local port; port=$(free_port)
    if [ ! -f "$dir/pg/PG_VERSION" ]; then
      mkdir -p "$dir/pg" "$dir/pgrun"
      if [ "$(id -u)" = 0 ]; then chown postgres "$dir/pg" "$dir/pgrun"; fi
      as_pg "$bin/initdb" -D "$dir/pg" -A trust -U postgres >"$dir/initdb.log" 2>&1 ||
        { echo "error: initdb failed; see $dir/initdb.log (the postgres user must be able to enter every parent of $dir)" >&2; exit 1; }
    fi
    # A port taken between free_port and the server's bind (a parallel start): try another.
    local tries=0
    until as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pgrun/pg.log" -w -t 30 \
      -o "-p $port -k $dir/pgrun -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null; do
      tries=$((tries + 1))
      [ "$tries" -lt 3 ] || { echo "error: PostgreSQL did not start; see $dir/pgrun/pg.log" >&2; exit 1; }
      port=$(free_port)
    done
    head -n 1 "$dir/pg/postmaster.pid" >"$dir/pg/postmaster.pid.copy"
    echo "$port" >"$dir/pg.port"
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "create database hicra" >/dev/null 2>&1 || true
  fi
  if ! alive "$dir/s3.pid"; then
    local port; port=$(free_port)
    nohup "$deno" run -A scaleout/s3_server.ts --port "$port" --dir "$dir/s3" >"$dir/s3.log" 2>&1 &
    echo $! >"$dir/s3.pid"
    echo "$port" >"$dir/s3.port"
    for _ in $(seq 1 100); do
      grep -q S3_URL "$dir/s3.log" 2>/dev/null && break
      alive "$dir/s3.pid" || { echo "error: the S3 server did not start; see $dir/s3.log" >&2; exit 1; }
      sleep 0.1
    done
  fi
  echo "PG_URL=postgres://postgres@127.0.0.1:$(cat "$dir/pg.port")/hicra"
  echo "S3_URL=http://127.0.0.1:$(cat "$dir/s3.port")"
  echo "CACHE_URL=s3://hicra/cache"
}

stop() {
  if alive "$dir/s3.pid"; then kill "$(cat "$dir/s3.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/pg/PG_VERSION" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "$cmd" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "error: unknown command $cmd (usage: services.sh install|start|stop [--dir DIR])" >&2; exit 2 ;;
esac
