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
ulimit -n "$(ulimit -Hn)"
. bench/parkd-on-schema.sh
start_parkd liveload 127.0.0.1:18081 liveload ${LIVE_POLL:+--live-poll "$LIVE_POLL"}
shift 2 || true
for rate in "${@:-10}"; do
  "$bin/liveload" --target http://127.0.0.1:18081 --clients "$clients" --changes "$changes" --rate "$rate" --pid "$pid"
done
