-- Kiosk pairing links: one-time, short-lived, kept by their token's hash.
CREATE TABLE gate_pairings (
    token_hash text PRIMARY KEY,
    gate_id    text NOT NULL REFERENCES gates (id),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
