-- Kiosk pairing links: one-time, short-lived, kept by their token's hash.
CREATE TABLE gate_pairings (
    token_hash TEXT PRIMARY KEY,
    gate_id    TEXT NOT NULL REFERENCES gates (id),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
