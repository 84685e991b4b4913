-- Versions for optimistic concurrency: an update names the version it read
-- (UPDATE ... WHERE id = ? AND version = ?) and moves it on, so that two
-- read-change-write cycles never lose one another's change. The HTTP layer
-- answers them as ETags. One column per statement: a repeated statement of an
-- interrupted run fails with ER_DUP_FIELDNAME, which counts as applied.
ALTER TABLE lots ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

ALTER TABLE levels ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

ALTER TABLE spots ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

ALTER TABLE notification_settings ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- A pending refund's retry is claimed (a lease) by one instance at a time,
-- so that two instances never send the same refund to the gateway at once.
ALTER TABLE payments ADD COLUMN claimed_until DATETIME(6) NULL;

ALTER TABLE payments ADD COLUMN claimed_by VARCHAR(64) NOT NULL DEFAULT '';
