#!/usr/bin/env bash
# The issue-16 data set on PostgreSQL: builds it with cmd/parkgen in a
# database of its own, and measures parkd's lot search and lot map on it with
# wrk (docs/benchmarks.md, "The 20-million-reservation data set").
#
# Usage:
#   bench/dataset.sh build [parkgen flags...]  create $DB (it must not exist), fill it, print rows and sizes
#   bench/dataset.sh measure                  serve $DB with parkd on a free port, wrk each read beside a bare
#                                             net/http server answering the same bytes, pgbench the bare
#                                             reservation INSERT, EXPLAIN the search
#   bench/dataset.sh drop                     drop $DB
#
# Environment: PG (default postgres://postgres@127.0.0.1:5432), DB (default
# parkd20m), DURATION (wrk's, default 15s), CONNECTIONS (wrk's, default 16), FROM and TO (the window searched,
# default tomorrow 09:00-12:00 UTC). Needs psql, pgbench, wrk, curl and Go.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=${DB:-parkd20m}
DURATION=${DURATION:-15s}
dsn="$PG/$DB?sslmode=disable"
tomorrow=$(date -u -d tomorrow +%F)
FROM=${FROM:-${tomorrow}T09:00:00Z}
TO=${TO:-${tomorrow}T12:00:00Z}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }

case "${1:-}" in
build)
  shift
  go build -o "$bin/parkgen" ./cmd/parkgen
  psql "$PG/postgres" -qc "CREATE DATABASE $DB"
  load
  echo "started $(date -u +%FT%TZ)"
  /usr/bin/time -f 'parkgen: %e s wall, %U s user, %S s system, %M KB max' "$bin/parkgen" --db "$dsn" "$@"
  load
  psql "$dsn" -c "SELECT relname AS table, reltuples::bigint AS rows,
      pg_size_pretty(pg_table_size(oid)) AS heap, pg_size_pretty(pg_indexes_size(oid)) AS indexes
    FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND reltuples > 1000 ORDER BY reltuples DESC" \
    -c "SELECT pg_size_pretty(pg_database_size(current_database())) AS database"
  ;;
measure)
  work=$bin pids=() secs=${DURATION%s} pg_admin="$PG/postgres" conns=${CONNECTIONS:-16}
  . bench/lib.sh
  go build -o "$bin/parkd" ./cmd/parkd
  go build -o "$bin/hotpaths" ./bench/hotpaths
  port=$(free_port)
  "$bin/parkd" --db "$dsn" --addr "127.0.0.1:$port" --no-demo --metrics-addr off --log-level warn --access-log=false &
  parkd=$!
  pids+=("$parkd")
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$bin"' EXIT
  wait_http "http://127.0.0.1:$port/readyz"
  base="http://127.0.0.1:$port"
  lot=$(psql "$dsn" -Atc "SELECT id FROM lots WHERE name = 'Chicago Mall 0012'")
  win="from=$FROM&to=$TO&size=standard"
  declare -A urls=(
    [search-q]="$base/api/v1/lots?q=chicago&$win"
    [search-near]="$base/api/v1/lots?near=41.8781,-87.6298&radius=20000&$win"
    [search-all]="$base/api/v1/lots?limit=100&$win"
    [map]="$base/api/v1/lots/$lot/spots"
    [map-window]="$base/api/v1/lots/$lot/spots?$win"
  )
  echo "# $(nproc) cores, $(go version | cut -d' ' -f3), PostgreSQL $(psql "$dsn" -At -c 'show server_version'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ)"
  echo "# each figure: wrk -t2 -c$conns for ${secs} s with gzip, beside a bare net/http server answering the same bytes; parkd, PostgreSQL and wrk share the cores"
  echo "| what | bytes (gzip) | parkd req/s | p50 ms | p99 ms | bare req/s | p50 ms | p99 ms | parkd/bare | load average |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for name in search-q search-near search-all map map-window; do
    url=${urls[$name]}
    bytes=$(curl -fsS -H 'Accept-Encoding: gzip' "$url" | wc -c)
    curl -fsS -o /dev/null "$url" # the first search loads its lots into the index
    sleep 1
    read -r rps p50 p99 <<<"$(wrk_run "$url" "$conns")"
    read -r crps cp50 cp99 <<<"$(ceiling_run "$url" "$conns")"
    echo "| $name \`${url#"$base"}\` | $bytes | $rps | $p50 | $p99 | $crps | $cp50 | $cp99 | $(ratio "$rps" "$crps") | $(cut -d' ' -f1-3 /proc/loadavg) |"
  done
  read -r tps tp50 tp99 <<<"$(pgbench_run)"
  echo "| pgbench -c16 bare reservation INSERT (tps) | | | | | $tps | $tp50 | $tp99 | | $(cut -d' ' -f1-3 /proc/loadavg) |"
  printf '\n== EXPLAIN of the search (q=chicago, %s..%s, standard)\n' "$FROM" "$TO"
  psql "$dsn" -v from="$FROM" -v to="$TO" -f bench/dataset-explain.sql
  ;;
drop)
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB"
  ;;
*)
  sed -n '2,14p' "$0" >&2
  exit 2
  ;;
esac
