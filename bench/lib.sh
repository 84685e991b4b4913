# Sourced by bench/hotpaths.sh and bench/dataset.sh: measuring an answer of
# parkd's against its ceilings in one sitting. The caller sets work (a scratch
# directory holding the hotpaths binary) and pids (an array of processes to
# kill on exit), and pg_admin (a PostgreSQL address) for pgbench_run.

fail() { echo "$(basename "$0"): $*" >&2; exit 1; }

free_port() {
  for p in $(seq 18800 18899); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  fail "no free port in 18800-18899"
}

wait_http() {
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return; sleep 0.2; done
  fail "nothing answers at $1"
}

# wrk_run URL [CONNECTIONS]: "req/s p50 p99" (ms), under gzip, -t2 -c32 (or
# -cCONNECTIONS), for secs seconds.
wrk_run() {
  local out
  out="$(wrk -t2 -c"${2:-32}" -d"${secs}s" --latency -H 'Accept-Encoding: gzip' "$1")"
  if grep -q 'Non-2xx' <<<"$out"; then fail "wrk got errors from $1: $(grep Non-2xx <<<"$out")"; fi
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }' <<<"$out"
}

# ceiling_run URL [CONNECTIONS]: the same wrk against a bare net/http server
# answering URL's bytes (bench/hotpaths ceiling).
ceiling_run() {
  local port pid path
  port="$(free_port)"
  "$work/hotpaths" ceiling --addr "127.0.0.1:$port" --url "$1" 2>/dev/null &
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/"
  path="/${1#http://*/}"
  wrk_run "http://127.0.0.1:$port$path" "${2:-32}"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

# pgbench_run: "tps p50 p99" (ms) of the bare reservation INSERT against the
# same exclusion constraint (bench/pgbench-hold.sql), 16 clients, in a
# database of its own.
pgbench_run() {
  local pgb_dsn
  pgb_dsn="$(echo "$pg_admin" | sed -E 's#/[^/?]*(\?|$)#/parkd_hotpaths_pgbench\1#')"
  psql -q "$pg_admin" -c 'DROP DATABASE IF EXISTS parkd_hotpaths_pgbench' -c 'CREATE DATABASE parkd_hotpaths_pgbench' >/dev/null 2>&1
  psql -q "$pgb_dsn" -f bench/pgbench-setup.sql >/dev/null 2>&1
  local out
  out="$(cd "$work" && pgbench -n -c16 -j2 -T"$secs" -l --log-prefix=pgbench -f "$OLDPWD/bench/pgbench-hold.sql" "$pgb_dsn" 2>&1)" ||
    fail "pgbench: $out"
  local tps
  tps="$(awk '/^tps/ { print $3; exit }' <<<"$out")"
  # Each transaction's log line has its latency in microseconds third.
  cat "$work"/pgbench.[0-9]* | awk '{ print $3 / 1000 }' | sort -n >"$work/latencies"
  rm -f "$work"/pgbench.[0-9]*
  local n
  n="$(wc -l <"$work/latencies")"
  printf '%.0f %.2f %.2f\n' "$tps" "$(sed -n "$((n / 2 + 1))p" "$work/latencies")" "$(sed -n "$((n * 99 / 100 + 1))p" "$work/latencies")"
  psql -q "$pg_admin" -c 'DROP DATABASE parkd_hotpaths_pgbench' >/dev/null
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
