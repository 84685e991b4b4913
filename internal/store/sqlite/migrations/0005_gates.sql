-- Gate log: who opened a gate by hand, and what was owed at the exit. Adding
-- columns is no UPDATE, so the append-only triggers are not involved.
ALTER TABLE gate_events ADD COLUMN actor_id TEXT NOT NULL DEFAULT '';
ALTER TABLE gate_events ADD COLUMN amount_due INTEGER NOT NULL DEFAULT 0;
-- A reservation's own log (GateEventFilter.ReservationID), in time order.
CREATE INDEX gate_events_reservation ON gate_events (reservation_id, at) WHERE reservation_id IS NOT NULL;

-- Set once, by Store.FlagOverstays: an overstay is announced exactly once.
ALTER TABLE reservations ADD COLUMN overstay_flagged_at INTEGER;

-- The periodic sweeps (Store.MarkNoShows, Store.FlagOverstays) read only what
-- these partial indexes hold, not the lot's history, which
-- reservations_lot_window would walk.
CREATE INDEX reservations_confirmed ON reservations (lot_id, starts_at) WHERE status = 'confirmed';
CREATE INDEX reservations_overstay_due ON reservations (lot_id, ends_at)
    WHERE status = 'checked_in' AND overstay_flagged_at IS NULL;

-- The lot's no-show window (policy.no_show_after) in microseconds, for the
-- queries to add to starts_at: a confirmed reservation nobody checked in by
-- starts_at plus this no longer holds its spot. The store writes it with the
-- policy; existing lots get theirs from the policy's Go duration text
-- ("15m0s", "1h30m0s", "45s", "500ms"): hours, then minutes (an "m" not
-- followed by "s"), then seconds with their unit.
ALTER TABLE lots ADD COLUMN no_show_after_us INTEGER NOT NULL DEFAULT 900000000;
WITH d AS (
    SELECT id, json_extract(policy, '$.no_show_after') AS v FROM lots
    WHERE json_type(policy, '$.no_show_after') = 'text'
), h AS (
    SELECT id,
        CASE WHEN instr(v, 'h') > 0 THEN CAST(substr(v, 1, instr(v, 'h') - 1) AS INTEGER) ELSE 0 END AS hours,
        CASE WHEN instr(v, 'h') > 0 THEN substr(v, instr(v, 'h') + 1) ELSE v END AS rest
    FROM d
), m AS (
    SELECT id, hours,
        CASE WHEN instr(rest, 'm') > 0 AND substr(rest, instr(rest, 'm') + 1, 1) <> 's'
            THEN CAST(substr(rest, 1, instr(rest, 'm') - 1) AS INTEGER) ELSE 0 END AS minutes,
        CASE WHEN instr(rest, 'm') > 0 AND substr(rest, instr(rest, 'm') + 1, 1) <> 's'
            THEN substr(rest, instr(rest, 'm') + 1) ELSE rest END AS secs
    FROM h
), us AS (
    SELECT id, hours * 3600000000 + minutes * 60000000 + CAST(round(
        CASE
            WHEN secs LIKE '%ms' THEN CAST(substr(secs, 1, length(secs) - 2) AS REAL) * 1000
            WHEN secs LIKE '%us' OR secs LIKE '%µs' THEN CAST(substr(secs, 1, length(secs) - 2) AS REAL)
            WHEN secs LIKE '%ns' THEN CAST(substr(secs, 1, length(secs) - 2) AS REAL) / 1000
            ELSE CAST(substr(secs, 1, length(secs) - 1) AS REAL) * 1000000
        END) AS INTEGER) AS v
    FROM m
)
UPDATE lots SET no_show_after_us = (SELECT v FROM us WHERE us.id = lots.id)
WHERE id IN (SELECT id FROM us WHERE v > 0); -- text that is no duration reads as 0: keep the default

-- Keys that sign drivers' gate passes, shared by every instance on the database.
CREATE TABLE pass_keys (
    id         TEXT PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
