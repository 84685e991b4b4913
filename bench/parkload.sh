#!/usr/bin/env bash
# Drives parkd on PostgreSQL with cmd/parkload: starts parkd with the demo
# garage on a fresh schema of the test database at a free loopback port,
# waits for /readyz, runs the mix, checks the invariants in the database, and
# stops parkd and drops the schema. Exits non-zero when parkload does (a
# violation, a 5xx, parkd not starting).
# Usage: bench/parkload.sh [parkload flags...]   e.g. --duration 30s --workers 4
# .ci/run runs it as the load smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
port=
for p in $(seq 18700 18799); do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || { echo "parkload.sh: no free port in 18700-18799" >&2; exit 1; }
. bench/parkd-on-schema.sh
start_parkd parkload "127.0.0.1:$port" parkload --metrics-addr off --access-log=false
curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" || { echo "parkload.sh: parkd did not become ready" >&2; exit 1; }
"$bin/parkload" --target "http://127.0.0.1:$port" --db "$dsn" "$@"
