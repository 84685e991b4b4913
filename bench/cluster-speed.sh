#!/usr/bin/env bash
# Issue 15's Speed item, in one sitting: booking holds/s and map reads/s, with
# p50 and p99, through nginx to the three parkd instances of deploy/cluster,
# against the same load straight to one instance, alternating the two targets
# (nginx, one, nginx, one) so that a busy moment of a shared machine weighs on
# both. The cluster is strict (every commit waits for a synchronous standby).
# Holds: cmd/holdload, --clients drivers each holding a named spot in a
# window of its own; map reads: wrk -t2 -c32 on GET /api/v1/lots/{lot}/spots
# (gzip). Prints one line per measurement and the ratios nginx/one.
# Runs as root; starts the cluster if it is not up (deploy/cluster up) and
# stops it afterwards if it started it.
# Usage: bench/cluster-speed.sh   Environment: SPEED_SECONDS (each
# measurement, default 10), SPEED_CLIENTS (holding drivers, default 16),
# PARKD_CLUSTER_* as deploy/cluster reads them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${SPEED_SECONDS:-10}"
clients="${SPEED_CLIENTS:-16}"
http_port="${PARKD_CLUSTER_PORT:-18180}"
nginx="http://127.0.0.1:$http_port"
one="http://127.0.0.1:$((http_port + 1))"
command -v wrk >/dev/null || { echo "cluster-speed: wrk is missing (apt-get install wrk)" >&2; exit 1; }

started=0
if ! curl -fsS -o /dev/null --max-time 2 "$nginx/readyz" 2>/dev/null; then
  deploy/cluster up >/dev/null
  started=1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"; [ "$started" = 0 ] || deploy/cluster down >/dev/null' EXIT
go build -o "$work/holdload" ./cmd/holdload
lot="$(curl -fsS "$nginx/api/v1/lots" | sed -E 's/.*"id":"(lot_[a-z0-9]+)".*/\1/' | head -n 1)"

# holds URL N: "holds/s p50 p99" (ms); each run's windows start N weeks
# ahead, apart from the other runs'.
holds() {
  local out
  out="$("$work/holdload" --target "$1" --clients "$clients" --duration "${secs}s" --after "$(( $2 * 168 ))h")"
  grep -q ', 0 failed$' <<<"$out" || { echo "cluster-speed: holds against $1 failed: $out" >&2; exit 1; }
  sed -E 's/.*: ([0-9]+) holds\/s, p50 ([0-9.]+[mµ]?s), p99 ([0-9.]+[mµ]?s).*/\1 \2 \3/' <<<"$(tail -n 1 <<<"$out")" |
    awk 'function ms(v) { if (v ~ /µs$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
      { printf "%s %.1f %.1f\n", $1, ms($2), ms($3) }'
}

# reads URL: "req/s p50 p99" (ms).
reads() {
  local out
  out="$(wrk -t2 -c32 -d"${secs}s" --latency -H 'Accept-Encoding: gzip' "$1/api/v1/lots/$lot/spots")"
  if grep -q 'Non-2xx' <<<"$out"; then echo "cluster-speed: wrk got errors from $1: $(grep Non-2xx <<<"$out")" >&2; exit 1; fi
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }' <<<"$out"
}

echo "# $(nproc) cores, $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg); ${secs} s each, holds with $clients drivers, reads wrk -t2 -c32"
declare -A sum
run=0
for round in 1 2; do
  for target in nginx one; do
    url=$nginx; [ "$target" = one ] && url=$one
    run=$((run + 1))
    h=$(holds "$url" "$run")
    r=$(reads "$url")
    echo "round $round, $target: holds/s p50 p99 (ms) $h; map reads/s p50 p99 (ms) $r"
    sum[$target.h]="${sum[$target.h]:-0} + $(cut -d' ' -f1 <<<"$h")"
    sum[$target.r]="${sum[$target.r]:-0} + $(cut -d' ' -f1 <<<"$r")"
  done
done
echo "nginx/one: holds/s $(echo "scale=2; (${sum[nginx.h]}) / (${sum[one.h]})" | bc), map reads/s $(echo "scale=2; (${sum[nginx.r]}) / (${sum[one.r]})" | bc)"
