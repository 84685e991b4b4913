-- A hold completes its request's idempotency key in its own transaction with
-- the reservation's id; the response is rendered after the commit, and stored
-- beside it once written. A retry that finds no stored body answers with the
-- reservation this id names.
ALTER TABLE idempotency_keys ADD COLUMN reservation_id TEXT;
