#!/usr/bin/env bash
# Measures the live map's fan-out on PostgreSQL: starts parkd with the demo on a
# fresh schema of the test database, connects cmd/liveload's WebSocket clients
# to the 450-spot garage, makes reservations through the API while they watch,
# prints the report, and cleans up.
# Usage: bench/live-load.sh [clients] [changes] [rate...]   (one run per rate, in reservations/s)
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-5000}"
changes="${2:-200}"
base="${PARKD_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
schema="liveload_$(date +%s)"
psql -q "$base" 2>/dev/null -c "CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public; CREATE SCHEMA $schema"
sep='?'; case "$base" in *\?*) sep='&';; esac
dsn="${base}${sep}search_path=${schema},public"
bin="$(mktemp -d)"
go build -o "$bin/parkd" ./cmd/parkd
go build -o "$bin/liveload" ./cmd/liveload
ulimit -n "$(ulimit -Hn)"
"$bin/parkd" --db "$dsn" --addr 127.0.0.1:18081 --log-level warn ${LIVE_POLL:+--live-poll "$LIVE_POLL"} &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; psql -q "$base" -c "DROP SCHEMA $schema CASCADE" 2>/dev/null; rm -rf "$bin"; }
trap cleanup EXIT
for _ in $(seq 1 50); do curl -fsS -o /dev/null http://127.0.0.1:18081/readyz 2>/dev/null && break; sleep 0.2; done
echo "# $(nproc) cores, $(go version | cut -d' ' -f3), PostgreSQL $(psql "$base" -tAc 'show server_version'), $(date -u +%FT%TZ)"
shift 2 || true
for rate in "${@:-10}"; do
  "$bin/liveload" --target http://127.0.0.1:18081 --clients "$clients" --changes "$changes" --rate "$rate" --pid "$pid"
done
