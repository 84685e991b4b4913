-- Gate log: who opened a gate by hand, and what was owed at the exit. Adding
-- columns is no UPDATE, so the append-only trigger is not involved.
ALTER TABLE gate_events ADD COLUMN actor_id text NOT NULL DEFAULT '';
ALTER TABLE gate_events ADD COLUMN amount_due bigint NOT NULL DEFAULT 0;
-- A reservation's own log (GateEventFilter.ReservationID), in time order.
CREATE INDEX gate_events_reservation ON gate_events (reservation_id, at) WHERE reservation_id IS NOT NULL;

-- Set once, by Store.FlagOverstays: an overstay is announced exactly once.
-- The index holds only cars inside and not yet flagged, so the periodic
-- sweep reads a handful of rows rather than every live reservation of the lot.
ALTER TABLE reservations ADD COLUMN overstay_flagged_at timestamptz;
CREATE INDEX reservations_overstay_due ON reservations (lot_id, ends_at)
    WHERE status = 'checked_in' AND overstay_flagged_at IS NULL;

-- The lot's no-show window (policy.no_show_after) as a number the queries can
-- add to starts_at: a confirmed reservation nobody checked in by starts_at plus
-- this no longer holds its spot. The stores write it with the policy; existing
-- lots get theirs from the policy's Go duration text ("15m0s", "1h30m0s"),
-- which the interval parser reads once "µs" is spelled "us".
ALTER TABLE lots ADD COLUMN no_show_after_us bigint NOT NULL DEFAULT 900000000;
UPDATE lots SET no_show_after_us = round(extract(epoch FROM replace(policy->>'no_show_after', 'µs', 'us')::interval) * 1000000)::bigint
WHERE policy->>'no_show_after' ~ '^([0-9]+h)?([0-9]+m)?[0-9]+(\.[0-9]+)?(s|ms|us|µs)$';

-- Keys that sign drivers' gate passes, shared by every instance on the database.
CREATE TABLE pass_keys (
    id         text PRIMARY KEY,
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL
);
