#!/usr/bin/env bash
# Holds over HTTP on PostgreSQL, in one sitting: parkd (the demo garage, on a
# fresh database of its own so that pg_stat_database counts only parkd) with
# its background loops slowed, cmd/holdload counting the transactions of one
# hold and then timing --clients drivers, and pgbench's bare INSERT against
# the same exclusion constraint (bench/pgbench-hold.sql) for the ratio.
# Usage: bench/hold-load.sh [holdload flags...]   e.g. --any --clients 16
# PARKD_BIN names a parkd binary to measure instead of this tree's (to compare
# with another commit's); PARKD_BENCH_POSTGRES_URL the server (default local).
set -euo pipefail
cd "$(dirname "$0")/.."
server="${PARKD_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
db="holdload_$(date +%s)_$$"
psql -q "$server/postgres" -c "CREATE DATABASE $db"
dsn="$server/$db?sslmode=disable"
bin="$(mktemp -d)"
parkd="${PARKD_BIN:-$bin/parkd}"
[ -n "${PARKD_BIN:-}" ] || go build -o "$bin/parkd" ./cmd/parkd
go build -o "$bin/holdload" ./cmd/holdload
port=
for p in $(seq 18800 18899); do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
"$parkd" --db "$dsn" --addr "127.0.0.1:$port" --log-level warn --access-log=false --metrics-addr off \
  --live-poll 1h --sweep-every 1h --notify-every 1h --retention-every 1h &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null; rm -rf "$bin"' EXIT
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break; sleep 0.2; done
echo "# $(nproc) cores, $(go version | cut -d' ' -f3), PostgreSQL $(psql "$dsn" -tAc 'show server_version'), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/holdload" --target "http://127.0.0.1:$port" --db "$dsn" "$@"
psql -q "$dsn" -f bench/pgbench-setup.sql 2>/dev/null
printf 'pgbench -c16 bare INSERT: '
pgbench -n -c 16 -j 2 -T 10 -f bench/pgbench-hold.sql "$dsn" 2>/dev/null | grep -E '^tps' | sed 's/ (without initial connection time)//'
