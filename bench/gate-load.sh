#!/usr/bin/env bash
# Measures gate decisions through HTTP on PostgreSQL: starts parkd on a fresh
# schema of the test database, drives it with cmd/gateload (50 concurrent gates
# on loopback), prints the report, and cleans up.
# Usage: bench/gate-load.sh [cars] [rate...]   (each rate, in scans/s, is one paced run; 0 = flat out)
set -euo pipefail
cd "$(dirname "$0")/.."
cars="${1:-4000}"
. bench/parkd-on-schema.sh
start_parkd gateload 127.0.0.1:18080 gateload --no-demo
shift || true
for rate in "${@:-0}"; do
  "$bin/gateload" --db "$dsn" --target http://127.0.0.1:18080 --cars "$cars" --gates "${GATES:-50}" --rate "$rate"
done
