-- Sessions: only a hash of each bearer token is kept.
CREATE TABLE sessions (
    token_hash text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Gate devices, authenticated by an API key of which only the hash is kept.
CREATE TABLE gates (
    id         text PRIMARY KEY,
    lot_id     text NOT NULL REFERENCES lots (id),
    name       text NOT NULL,
    direction  text NOT NULL CHECK (direction IN ('entry', 'exit')),
    key_hash   text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);
CREATE INDEX gates_lot ON gates (lot_id);

-- A removed vehicle leaves its owner's list but stays for the reservations that name it.
ALTER TABLE vehicles ADD COLUMN deleted_at timestamptz;

-- Store.LotReservations lists reservations of every status overlapping a window.
-- reservations_lot_window holds only blocking ones, and a scan on starts_at
-- would walk the lot's whole history; the reservations that end after the
-- window opens are the window's own and the future's, a bounded set.
CREATE INDEX reservations_lot_ends ON reservations (lot_id, ends_at);
