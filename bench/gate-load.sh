#!/usr/bin/env bash
# Measures gate decisions through HTTP on PostgreSQL: starts parkd on a fresh
# schema of the test database, drives it with cmd/gateload (50 concurrent gates
# on loopback), prints the report, and cleans up.
# Usage: bench/gate-load.sh [cars] [rate...]   (each rate, in scans/s, is one paced run; 0 = flat out)
set -euo pipefail
cd "$(dirname "$0")/.."
cars="${1:-4000}"
base="${PARKD_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
schema="gateload_$(date +%s)"
psql -q "$base" 2>/dev/null -c "CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public; CREATE SCHEMA $schema"
sep='?'; case "$base" in *\?*) sep='&';; esac
dsn="${base}${sep}search_path=${schema},public"
bin="$(mktemp -d)"
go build -o "$bin/parkd" ./cmd/parkd
go build -o "$bin/gateload" ./cmd/gateload
"$bin/parkd" --db "$dsn" --no-demo --addr 127.0.0.1:18080 --log-level warn &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; psql -q "$base" -c "DROP SCHEMA $schema CASCADE" 2>/dev/null; rm -rf "$bin"; }
trap cleanup EXIT
for _ in $(seq 1 50); do curl -fsS -o /dev/null http://127.0.0.1:18080/readyz 2>/dev/null && break; sleep 0.2; done
echo "# $(nproc) cores, $(go version | cut -d' ' -f3), PostgreSQL $(psql "$base" -tAc 'show server_version'), $(date -u +%FT%TZ)"
shift || true
for rate in "${@:-0}"; do
  "$bin/gateload" --db "$dsn" --target http://127.0.0.1:18080 --cars "$cars" --gates "${GATES:-50}" --rate "$rate"
done
