# Sourced by the load scripts: builds parkd and the named tool, starts parkd on a
# fresh schema of the test database at $addr (with any extra flags in $@),
# waits until it is ready, and drops the schema when the script exits.
# Sets: base, dsn, bin, pid. Usage: start_parkd NAME ADDR TOOL [parkd flags...]
start_parkd() {
  local name="$1" tool="$3"
  addr="$2"
  shift 3
  base="${PARKD_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
  schema="${name}_$(date +%s)"
  psql -q "$base" 2>/dev/null -c "CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public; CREATE SCHEMA $schema"
  local sep='?'; case "$base" in *\?*) sep='&';; esac
  dsn="${base}${sep}search_path=${schema},public"
  bin="$(mktemp -d)"
  go build -o "$bin/parkd" ./cmd/parkd
  go build -o "$bin/$tool" "./cmd/$tool"
  "$bin/parkd" --db "$dsn" --addr "$addr" --log-level warn "$@" &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; psql -q "$base" -c "DROP SCHEMA $schema CASCADE" 2>/dev/null; rm -rf "$bin"' EXIT
  for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://$addr/readyz" 2>/dev/null && break; sleep 0.2; done
  echo "# $(nproc) cores, $(go version | cut -d' ' -f3), PostgreSQL $(psql "$base" -tAc 'show server_version'), $(date -u +%FT%TZ)"
}
