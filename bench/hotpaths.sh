#!/usr/bin/env bash
# The hot paths of issue 14, each against its ceiling, in one sitting, on each
# backend: parkd with the demo garage, a window in which all 450 spots of the
# garage are booked for 8 hours (3,600 bookings, seeded through the API), then
#   (a) GET /api/v1/lots/{lot}/spots, gzip, wrk -t2 -c32, for the default
#       window and for the 3,600-booking one, against
#   (b) a bare net/http server answering the same bytes with the same headers
#       (bench/hotpaths ceiling), under the same wrk;
#   (c) holds of a named spot over HTTP, 16 drivers, each hold its own window
#       and Idempotency-Key (bench/hotpaths holds), against
#   (d) pgbench -n -c16 -j2 of bench/pgbench-hold.sql, the bare INSERT against
#       the same exclusion constraint;
#   (e) on PostgreSQL, idle parkd's transactions a second, from
#       pg_stat_database over 30 s on a database of its own.
# Prints a table (req/s, p50 and p99 in ms, parkd/ceiling); exits non-zero on
# an error (a non-2xx answer, parkd not starting), never on slow figures.
# Usage: bench/hotpaths.sh [backend...]   (default: postgres sqlite mysql)
# Environment: PARKD_TEST_POSTGRES_DSN, PARKD_TEST_MYSQL_DSN (the databases'
# servers; each run uses a database named parkd_hotpaths, dropped first),
# HOTPATHS_SECONDS (each measurement, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${HOTPATHS_SECONDS:-10}"
pg_admin="${PARKD_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
my_admin="${PARKD_TEST_MYSQL_DSN:-mysql://root@127.0.0.1:3306/test}"
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(postgres sqlite mysql)
pg_dsn="$(echo "$pg_admin" | sed -E 's#/[^/?]*(\?|$)#/parkd_hotpaths\1#')"
my_dsn="$(echo "$my_admin" | sed -E 's#/[^/?]*(\?|$)#/parkd_hotpaths\1#')"
my_host="$(echo "$my_admin" | sed -E 's#^mysql://([^@]*@)?([^:/]*).*#\2#')"
my_port="$(echo "$my_admin" | sed -nE 's#^mysql://[^/]*:([0-9]+)/.*#\1#p')"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh

go build -o "$work/parkd" ./cmd/parkd
go build -o "$work/hotpaths" ./bench/hotpaths

xacts() { psql -At "$pg_admin" -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'parkd_hotpaths'"; }

echo "# $(nproc) cores, $(go version | cut -d' ' -f3), PostgreSQL $(psql -At "$pg_admin" -c 'show server_version'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# each figure: ${secs} s; parkd and the load share the cores"
table="$work/table"
row() { printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$@" >>"$table"; }

for backend in "${backends[@]}"; do
  case "$backend" in
  postgres)
    psql -q "$pg_admin" -c 'DROP DATABASE IF EXISTS parkd_hotpaths' -c 'CREATE DATABASE parkd_hotpaths' >/dev/null 2>&1
    db="$pg_dsn" ;;
  sqlite) db="$work/hotpaths.db" ;;
  mysql)
    mariadb --protocol=tcp -h "$my_host" -P "${my_port:-3306}" -u root -e 'DROP DATABASE IF EXISTS parkd_hotpaths; CREATE DATABASE parkd_hotpaths'
    db="$my_dsn" ;;
  *) fail "unknown backend $backend (postgres, sqlite or mysql)" ;;
  esac
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  "$work/parkd" --db "$db" --addr "127.0.0.1:$port" --metrics-addr off --access-log=false --log-level warn >"$work/parkd-$backend.log" 2>&1 &
  parkd=$!
  pids+=("$parkd")
  wait_http "$base/readyz"

  idle=n/a
  if [ "$backend" = postgres ]; then
    sleep 5 # past the start's own work
    before="$(xacts)"; sleep 30; after="$(xacts)"
    idle="$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.1f", (b - a) / 30 }')"
  fi

  from="$(date -u -d '+2 days' +%Y-%m-%dT00:00:00Z)"
  to="$(date -u -d "$from + 8 hours" +%Y-%m-%dT%H:%M:%SZ)"
  lot="$("$work/hotpaths" seed --target "$base" --from "$from" --hours 8)" || fail "seeding the window failed"

  for window in default full; do
    url="$base/api/v1/lots/$lot/spots"
    [ "$window" = full ] && url="$url?from=$from&to=$to"
    bytes="$(curl -fsS -H 'Accept-Encoding: gzip' "$url" | wc -c)"
    parkd_figures="$(wrk_run "$url")"
    ceiling_figures="$(ceiling_run "$url")"
    read -r rps p50 p99 <<<"$parkd_figures"
    read -r crps cp50 cp99 <<<"$ceiling_figures"
    what="map, default window"
    [ "$window" = full ] && what="map, 3,600 bookings"
    row "$backend" "$what ($bytes B gzip)" "$rps" "$p50" "$p99" "$crps" "$cp50" "$cp99" "$(ratio "$rps" "$crps")"
  done

  parkd_figures="$("$work/hotpaths" holds --target "$base" --lot "$lot" --clients 16 --duration "${secs}s")" || fail "holds failed"
  ceiling_figures="$(pgbench_run)"
  read -r rps p50 p99 <<<"$parkd_figures"
  read -r tps tp50 tp99 <<<"$ceiling_figures"
  row "$backend" "holds, 16 clients vs pgbench -c16" "$rps" "$p50" "$p99" "$tps" "$tp50" "$tp99" "$(ratio "$rps" "$tps")"
  row "$backend" "idle: transactions/s (30 s)" "$idle" "" "" "" "" "" ""

  kill "$parkd"; wait "$parkd" 2>/dev/null || true
  [ "$backend" = postgres ] && psql -q "$pg_admin" -c 'DROP DATABASE parkd_hotpaths' >/dev/null
  [ "$backend" = mysql ] && mariadb --protocol=tcp -h "$my_host" -P "${my_port:-3306}" -u root -e 'DROP DATABASE parkd_hotpaths'
done

echo
echo "| backend | what | parkd req/s | p50 ms | p99 ms | ceiling req/s | p50 ms | p99 ms | parkd/ceiling |"
echo "|---|---|---|---|---|---|---|---|---|"
cat "$table"
