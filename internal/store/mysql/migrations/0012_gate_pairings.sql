-- Kiosk pairing links: one-time, short-lived, kept by their token's hash.
CREATE TABLE gate_pairings (
    token_hash VARCHAR(255) NOT NULL PRIMARY KEY,
    gate_id    VARCHAR(64) NOT NULL,
    created_by VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6) NULL,
    CONSTRAINT gate_pairings_gate_id_fkey FOREIGN KEY (gate_id) REFERENCES gates (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
