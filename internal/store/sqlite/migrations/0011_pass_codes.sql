-- Typed pass codes, found by a keyed digest of the code (never the code) so
-- that a code typed at the keypad finds its reservation at any time and gets
-- the same answer as its QR code ("too early", "expired"). A 40-bit code can
-- be shared by two reservations, hence the pair as the key.
CREATE TABLE pass_codes (
    digest         TEXT NOT NULL,
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    PRIMARY KEY (digest, reservation_id)
);
