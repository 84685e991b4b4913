-- Versions for optimistic concurrency: an update names the version it read
-- (UPDATE ... WHERE id = ? AND version = ?) and moves it on, so that two
-- read-change-write cycles never lose one another's change. The HTTP layer
-- answers them as ETags.
ALTER TABLE lots ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE levels ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE spots ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE notification_settings ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- A pending refund's retry is claimed (a lease) by one instance at a time,
-- so that two instances never send the same refund to the gateway at once.
ALTER TABLE payments ADD COLUMN claimed_until INTEGER;
ALTER TABLE payments ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
