#!/usr/bin/env bash
# Issue 16's ladder: one parkd on a parkgen data set (bench/dataset.sh build,
# or parkgen on a SQLite file), driven by cmd/parkload over every lot at the
# design notes' peak, then 10x, 100x and flat out, each step with its CPU split
# by program, PostgreSQL's wait events, and a Go CPU profile of parkd at the
# step named by PROFILE. parkd, the database and parkload share the cores. On
# PostgreSQL a short unreported run and ANALYZE come first (see below).
#
# Usage: bench/ladder.sh DB [RATE...]
#   DB     a postgres:// address or a SQLite file parkgen filled
#   RATE   journeys started a second (parkload --rate); 0 is the closed loop.
#          Default: 50 500 5000 0 (the peak's 139 req/s is about 50 journeys/s)
# Environment: DURATION (each step, default 30s), WORKERS (default 64),
# DRIVERS (64), SUBSCRIBERS (20), PROFILE (the RATE to profile, default 0),
# OUT (where profiles and logs go, default a new directory under /tmp).
# Every step runs; exits non-zero when one failed (a violation, a 5xx, parkd
# not starting): past where it breaks, steps fail.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:?usage: bench/ladder.sh DB [RATE...]}
shift
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(50 500 5000 0)
DURATION=${DURATION:-30s}
WORKERS=${WORKERS:-64}
DRIVERS=${DRIVERS:-64}
SUBSCRIBERS=${SUBSCRIBERS:-20}
PROFILE=${PROFILE:-0}
OUT=${OUT:-$(mktemp -d /tmp/ladder.XXXXXX)}
mkdir -p "$OUT"
work=$(mktemp -d) pids=()
. bench/lib.sh
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

go build -o "$work/parkd" ./cmd/parkd
go build -o "$work/parkload" ./cmd/parkload
email=root@load.test password='a root password for the ladder'
"$work/parkd" admin create --db "$db" --email "$email" --password "$password" --name "Ladder" >/dev/null 2>&1 || true
# drive FLAGS...: parkload against this parkd, every lot, as the operator.
drive() {
  "$work/parkload" --target "http://127.0.0.1:$port" --db "$db" --operator-email "$email" --operator-password "$password" \
    --entry-key= --exit-key= --lots all "$@"
}
port=$(free_port)
mport=$((port + 1))
"$work/parkd" --db "$db" --addr "127.0.0.1:$port" --metrics-addr "127.0.0.1:$mport" --no-demo \
  --log-level warn --access-log=false >"$OUT/parkd.log" 2>&1 &
parkd=$!
pids+=("$parkd")
wait_http "http://127.0.0.1:$port/readyz"

postgres=false
case "$db" in postgres://*) postgres=true ;; esac
# cpu PID...: the CPU seconds (user + system) the processes have used.
cpu() { local t=0; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
pg_pids() { $postgres && pgrep -d' ' -x postgres || true; }
hz=$(getconf CLK_TCK)

echo "# $(nproc) cores, $(go version | cut -d' ' -f3), $($postgres && psql "$db" -At -c 'select version()' | cut -d' ' -f1-2 || echo SQLite), commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ)"
if $postgres; then
  # parkgen's history has no active reservation (it ends yesterday), so the
  # statistics it leaves say the partial indexes on active reservations are
  # empty, and PostgreSQL's plans for them go wrong once a run adds some
  # (whole-index scans, docs/benchmarks.md). A live system's statistics see
  # its active share; so that the steps measure that, a short unreported
  # run adds active reservations first, then ANALYZE.
  drive --duration 20s --workers 16 --drivers 16 --subscribers 0 --rate 50 --seed 99 \
    >"$OUT/warm-up.txt" 2>&1 || fail "the warm-up run failed: $OUT/warm-up.txt"
  psql "$db" -qc "ANALYZE reservations"
fi

failed=0
echo "# $DURATION a step, $WORKERS workers, $DRIVERS drivers, $SUBSCRIBERS live subscribers, every lot; out: $OUT"
for rate in "${rates[@]}"; do
  echo
  echo "## rate $rate (load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%T))"
  before_parkd=$(cpu "$parkd") before_pg=$(cpu $(pg_pids))
  waits=
  if $postgres; then
    # PostgreSQL's active backends, sampled every 500 ms: what they wait on.
    (while sleep 0.5; do
      psql "$db" -At -c "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity
        WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null
    done) >"$OUT/waits-$rate.txt" &
    waits=$!
    pids+=("$waits")
  fi
  profiler=
  if [ "$rate" = "$PROFILE" ]; then
    secs=${DURATION%s}
    # Past the set-up (sign-ups hash passwords with Argon2id) to near the end.
    (sleep 12 && curl -fsS -o "$OUT/cpu-$rate.pprof" "http://127.0.0.1:$mport/debug/pprof/profile?seconds=$((secs - 8))") &
    profiler=$!
  fi
  start=$(date +%s.%N)
  drive --duration "$DURATION" --workers "$WORKERS" --drivers "$DRIVERS" --subscribers "$SUBSCRIBERS" --rate "$rate" --progress 10s 2>&1 | tee "$OUT/parkload-$rate.txt" &
  load=$!
  sleep 0.2
  lpid=$(pgrep -n -f "$work/parkload --target" || true)
  before_load=0
  last_load=0
  while kill -0 "$load" 2>/dev/null; do
    [ -n "$lpid" ] && last_load=$(cpu "$lpid")
    sleep 0.5
  done
  if ! wait "$load"; then
    echo "step failed: parkload exited non-zero (why: above)"
    failed=$((failed + 1))
  fi
  elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')
  after_parkd=$(cpu "$parkd") after_pg=$(cpu $(pg_pids))
  [ -n "$waits" ] && { kill "$waits" 2>/dev/null; wait "$waits" 2>/dev/null || true; }
  [ -n "$profiler" ] && { wait "$profiler" || echo "profile: failed"; }
  awk -v e="$elapsed" -v hz="$hz" -v p=$((after_parkd - before_parkd)) -v g=$((after_pg - before_pg)) -v l=$((last_load - before_load)) \
    'BEGIN { printf "cpu over %.0f s (cores busy): parkd %.2f, database %.2f, parkload %.2f (its set-up included)\n", e, p / hz / e, g / hz / e, l / hz / e }'
  if [ -n "$waits" ]; then
    echo "PostgreSQL active backends, by what they waited on (samples every 500 ms):"
    sort "$OUT/waits-$rate.txt" | uniq -c | sort -rn | head -8 | sed 's/^/  /'
  fi
  if [ -f "$OUT/cpu-$rate.pprof" ]; then
    echo "parkd's CPU profile (go tool pprof -top $OUT/cpu-$rate.pprof), the top by cumulative time:"
    go tool pprof -top -cum -nodecount=30 "$work/parkd" "$OUT/cpu-$rate.pprof" 2>/dev/null | sed -n '1,40p' | sed 's/^/  /'
  fi
done
[ "$failed" -eq 0 ]
