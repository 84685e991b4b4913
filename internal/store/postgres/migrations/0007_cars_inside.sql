-- A car inside holds its spot until it leaves, whatever its window says, and
-- bookings the lot has to move or cancel say why.

-- Why the lot (not the driver) last moved or cancelled a reservation, and the
-- spot it last moved from. price_size is the size its window was priced at
-- (the chosen spot's, or the vehicle's for "any spot"); older rows have none,
-- and their extensions are priced at the vehicle's size.
ALTER TABLE reservations ADD COLUMN moved_from text NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN change_reason text NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN price_size smallint CHECK (price_size BETWEEN 1 AND 4);

-- The cars inside, for the rule below and the sweep that moves the bookings
-- behind an overstay: a few rows per lot at any time.
CREATE INDEX reservations_inside ON reservations (spot_id, starts_at) INCLUDE (ends_at, lot_id)
    WHERE status = 'checked_in';

-- Invariant 2: a car inside past its window holds its spot until its exit, so
-- no reservation may newly claim the spot from before that car's end on:
-- neither a hold nor a move onto the spot, a later end, nor a car checking in.
-- The exclusion constraint (reservations_no_overlap) covers the booked
-- windows; this covers the time past them, which grows with the clock and so
-- cannot be a constraint over stored values. "Now" is the writer's clock: the
-- row's created_at for an insert, its updated_at for an update.
--
-- Every writer of a claim locks the spot's row first: a car checking in (the
-- only way a car gets inside) takes it exclusively, a hold or a move shares it.
-- Under READ COMMITTED each statement of this function reads a fresh snapshot,
-- so the test below, run after the lock is granted, sees every car that
-- checked in before. Holds do not wait for one another.
CREATE FUNCTION reservations_car_inside() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    at timestamptz := CASE TG_OP WHEN 'INSERT' THEN NEW.created_at ELSE NEW.updated_at END;
BEGIN
    IF NEW.status = 'checked_in' THEN
        PERFORM 1 FROM spots WHERE id = NEW.spot_id FOR NO KEY UPDATE;
    ELSE
        PERFORM 1 FROM spots WHERE id = NEW.spot_id FOR SHARE;
    END IF;
    IF EXISTS (
        SELECT 1 FROM reservations c
        WHERE c.spot_id = NEW.spot_id AND c.status = 'checked_in' AND c.id <> NEW.id
            AND c.starts_at < NEW.ends_at AND c.ends_at <= at
    ) THEN
        RAISE EXCEPTION 'a car is still inside on spot %', NEW.spot_id
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'reservations_car_inside';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reservations_car_inside_insert BEFORE INSERT ON reservations
    FOR EACH ROW WHEN (NEW.status IN ('held', 'confirmed', 'checked_in'))
    EXECUTE FUNCTION reservations_car_inside();
-- A payment confirming a hold claims nothing new (the hold had the spot): a
-- booking that an overstay now stands in front of is moved, not refused.
CREATE TRIGGER reservations_car_inside_update BEFORE UPDATE OF status, spot_id, starts_at, ends_at ON reservations
    FOR EACH ROW WHEN (NEW.status IN ('held', 'confirmed', 'checked_in') AND (
        NEW.spot_id <> OLD.spot_id OR NEW.starts_at < OLD.starts_at OR NEW.ends_at > OLD.ends_at
        OR (NEW.status = 'checked_in' AND OLD.status <> 'checked_in')))
    EXECUTE FUNCTION reservations_car_inside();

-- An extension is paid by a booking charge that says which end it moves from
-- and to. The booking itself has one live charge; each extension has its own,
-- and one reservation has at most one extension being paid at a time.
ALTER TABLE payments ADD COLUMN extends_from timestamptz;
ALTER TABLE payments ADD COLUMN extends_to timestamptz;
DROP INDEX payments_one_live_charge;
CREATE UNIQUE INDEX payments_one_live_charge ON payments (reservation_id, purpose)
    WHERE kind = 'charge' AND status IN ('pending', 'succeeded') AND extends_to IS NULL;
CREATE UNIQUE INDEX payments_one_pending_extension ON payments (reservation_id)
    WHERE kind = 'charge' AND status = 'pending' AND extends_to IS NOT NULL;

-- Bookings the lot cancelled (a move that found no spot), for the sweep that
-- makes sure each one's money went back.
CREATE INDEX reservations_lot_cancelled ON reservations (updated_at)
    WHERE status = 'cancelled' AND change_reason <> '';
