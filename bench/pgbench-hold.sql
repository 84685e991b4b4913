-- One hold as a bare INSERT against the same exclusion constraint parkd uses:
-- the floor for what a hold can cost on this PostgreSQL.
\set spot random(1, 450)
\set slot random(1, 100000000)
INSERT INTO bench_holds (spot_id, starts_at, ends_at, status)
VALUES (:spot, timestamptz '2030-01-01' + :slot * interval '1 hour', timestamptz '2030-01-01' + (:slot + 1) * interval '1 hour', 'held')
ON CONFLICT DO NOTHING;
