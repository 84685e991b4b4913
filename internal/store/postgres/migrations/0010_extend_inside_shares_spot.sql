-- A car already inside that extends its stay shares its spot's row, as a hold
-- does; only a car newly inside (checking in, a drive-up, a change of spot)
-- takes the row exclusively. Taking it exclusively on every update of a
-- checked-in row deadlocked an extension with the holds that had shared the
-- row and then waited, at the exclusion constraint, for the extension's own
-- change of that spot's bookings. The extension's later end is covered by
-- reservations_no_overlap; the test below still sees every other car inside.
CREATE OR REPLACE FUNCTION reservations_car_inside() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    at timestamptz := CASE TG_OP WHEN 'INSERT' THEN NEW.created_at ELSE NEW.updated_at END;
BEGIN
    IF NEW.status = 'checked_in' AND (TG_OP = 'INSERT' OR OLD.status <> 'checked_in' OR OLD.spot_id <> NEW.spot_id) THEN
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
