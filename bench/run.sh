#!/usr/bin/env bash
# Runs the booking benchmarks of docs/benchmarks.md in one sitting: the engine's
# holds/s and availability on SQLite, PostgreSQL and MariaDB, then pgbench
# running a bare INSERT against the same exclusion constraint, for the ratio.
# Usage: bench/run.sh [count]   (PostgreSQL at PARKD_TEST_POSTGRES_DSN, MariaDB at
# PARKD_TEST_MYSQL_DSN, or the local defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-5}"
export PARKD_TEST_POSTGRES_DSN="${PARKD_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export PARKD_TEST_MYSQL_DSN="${PARKD_TEST_MYSQL_DSN:-mysql://root@127.0.0.1:3306/test}"

echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3), PostgreSQL $(psql "$PARKD_TEST_POSTGRES_DSN" -tAc 'show server_version')"
echo "# MariaDB: $(mariadb --protocol=tcp -h 127.0.0.1 -u root -N -e 'SELECT CONCAT(VERSION(), ", innodb_flush_log_at_trx_commit=", @@innodb_flush_log_at_trx_commit, ", buffer pool ", @@innodb_buffer_pool_size DIV 1048576, " MiB")' 2>/dev/null)"
echo "# date: $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench 'BenchmarkHold|BenchmarkAvailability' -benchtime 5s -count "$count" ./internal/booking/

echo "# pgbench: one INSERT per transaction against the same exclusion constraint"
psql -q "$PARKD_TEST_POSTGRES_DSN" -f bench/pgbench-setup.sql 2>/dev/null
for clients in 16 64; do
  for _ in $(seq 1 "$count"); do
    printf 'pgbench clients=%s ' "$clients"
    pgbench -n -c "$clients" -j 2 -T 10 -f bench/pgbench-hold.sql "$PARKD_TEST_POSTGRES_DSN" 2>/dev/null | grep -E '^tps' | sed 's/ (without initial connection time)//'
  done
done
psql -q "$PARKD_TEST_POSTGRES_DSN" -c 'DROP TABLE bench_holds' 2>/dev/null
