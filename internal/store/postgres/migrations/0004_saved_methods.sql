-- A payment method a driver saved, with their consent, for charges made while
-- they are away from the screen (overstays at the exit).
CREATE TABLE saved_payment_methods (
    user_id        text PRIMARY KEY REFERENCES users (id),
    payment_method text NOT NULL,
    consented_at   timestamptz NOT NULL
);

-- What a charge pays for: the booking, or an overstay. One live charge per
-- reservation and purpose.
ALTER TABLE payments ADD COLUMN purpose text NOT NULL DEFAULT 'booking' CHECK (purpose IN ('booking', 'overstay'));
DROP INDEX payments_one_live_charge;
CREATE UNIQUE INDEX payments_one_live_charge ON payments (reservation_id, purpose)
    WHERE kind = 'charge' AND status IN ('pending', 'succeeded');
