CREATE EXTENSION IF NOT EXISTS btree_gist;
DROP TABLE IF EXISTS bench_holds;
CREATE TABLE bench_holds (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spot_id   bigint NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    status    text NOT NULL,
    EXCLUDE USING gist (spot_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
        WHERE (status IN ('held', 'confirmed', 'checked_in'))
);
