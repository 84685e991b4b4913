-- Sessions: only a hash of each bearer token is kept.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Gate devices, authenticated by an API key of which only the hash is kept.
CREATE TABLE gates (
    id         TEXT PRIMARY KEY,
    lot_id     TEXT NOT NULL REFERENCES lots (id),
    name       TEXT NOT NULL,
    direction  TEXT NOT NULL CHECK (direction IN ('entry', 'exit')),
    key_hash   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX gates_lot ON gates (lot_id);

-- A removed vehicle leaves its owner's list but stays for the reservations that name it.
ALTER TABLE vehicles ADD COLUMN deleted_at INTEGER;
