-- The lot search's two queries (internal/store/postgres/lots.go, SearchLots
-- and CountFree) as parkd sends them for q=chicago over [:from, :to) for a
-- standard car, explained with ANALYZE and BUFFERS, each as a custom plan (a
-- connection's first five executions) and as the generic plan pgx's
-- statement cache may settle on. Run by bench/dataset.sh measure:
--   psql "$dsn" -v from=2026-12-03T09:00:00Z -v to=2026-12-03T12:00:00Z -f bench/dataset-explain.sql
\pset pager off
PREPARE lots_page(text, int) AS
SELECT id, name, k FROM (
    SELECT id, name, 0::float8 AS k FROM lots
    WHERE lower(name) LIKE $1 ESCAPE '!' OR lower(address) LIKE $1 ESCAPE '!') found
WHERE true ORDER BY name, id LIMIT $2;

PREPARE count_free(text[], timestamptz, timestamptz, timestamptz, smallint) AS
SELECT lot_id, count(*), count(*) FILTER (WHERE in_service AND id NOT IN (
        SELECT spot_id FROM reservations WHERE lot_id = ANY($1) AND status IN ('held', 'confirmed', 'checked_in')
        AND (status <> 'held' OR hold_expires_at > $4)
        AND (status <> 'confirmed' OR starts_at > $4 - (SELECT no_show_after_us FROM lots WHERE lots.id = reservations.lot_id) * interval '1 microsecond')
        AND starts_at < $3 AND (ends_at > $2 OR (status = 'checked_in' AND ends_at <= $4))))
FROM spots WHERE lot_id = ANY($1) AND size >= $5 GROUP BY lot_id;

SELECT array_agg(id ORDER BY name, id)::text AS ids FROM lots WHERE lower(name) LIKE '%chicago%' \gset

\echo == the page of lots
EXPLAIN (ANALYZE, BUFFERS) EXECUTE lots_page('%chicago%', 51);
\echo == the free spots of the page (custom plan)
EXPLAIN (ANALYZE, BUFFERS) EXECUTE count_free(:'ids', :'from', :'to', now(), 3);
SET plan_cache_mode = force_generic_plan;
\echo == the free spots of the page (generic plan)
EXPLAIN (ANALYZE, BUFFERS) EXECUTE count_free(:'ids', :'from', :'to', now(), 3);
