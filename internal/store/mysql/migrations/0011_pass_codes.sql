-- Typed pass codes, found by a keyed digest of the code (never the code) so
-- that a code typed at the keypad finds its reservation at any time and gets
-- the same answer as its QR code ("too early", "expired"). A 40-bit code can
-- be shared by two reservations, hence the pair as the key.
CREATE TABLE pass_codes (
    digest         VARCHAR(64) NOT NULL,
    reservation_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (digest, reservation_id),
    CONSTRAINT pass_codes_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES reservations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
