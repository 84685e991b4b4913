-- Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE operators (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE lots (
    id          TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    name        TEXT NOT NULL,
    address     TEXT NOT NULL,
    lat         REAL NOT NULL,
    lng         REAL NOT NULL,
    time_zone   TEXT NOT NULL,
    currency    TEXT NOT NULL,
    policy      TEXT NOT NULL, -- JSON
    created_at  INTEGER NOT NULL
);
CREATE INDEX lots_operator ON lots (operator_id);

CREATE TABLE levels (
    id      TEXT PRIMARY KEY,
    lot_id  TEXT NOT NULL REFERENCES lots (id),
    name    TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    width   REAL NOT NULL,
    height  REAL NOT NULL
);
CREATE INDEX levels_lot ON levels (lot_id, ordinal);

CREATE TABLE spots (
    id         TEXT PRIMARY KEY,
    lot_id     TEXT NOT NULL REFERENCES lots (id),
    level_id   TEXT NOT NULL REFERENCES levels (id),
    label      TEXT NOT NULL,
    size       INTEGER NOT NULL CHECK (size BETWEEN 1 AND 4),
    lat        REAL NOT NULL,
    lng        REAL NOT NULL,
    x          REAL NOT NULL,
    y          REAL NOT NULL,
    amenities  TEXT NOT NULL DEFAULT '[]', -- JSON array
    in_service INTEGER NOT NULL DEFAULT 1,
    UNIQUE (lot_id, label)
);
CREATE INDEX spots_lot_size ON spots (lot_id, size, label);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('driver', 'operator', 'admin')),
    operator_id   TEXT REFERENCES operators (id),
    created_at    INTEGER NOT NULL
);

CREATE TABLE vehicles (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    plate      TEXT NOT NULL,
    size       INTEGER NOT NULL CHECK (size BETWEEN 1 AND 4),
    created_at INTEGER NOT NULL
);
CREATE INDEX vehicles_user ON vehicles (user_id);

CREATE TABLE reservations (
    id              TEXT PRIMARY KEY,
    user_id         TEXT REFERENCES users (id),
    vehicle_id      TEXT REFERENCES vehicles (id),
    plate           TEXT NOT NULL,
    vehicle_size    INTEGER NOT NULL CHECK (vehicle_size BETWEEN 1 AND 4),
    lot_id          TEXT NOT NULL REFERENCES lots (id),
    spot_id         TEXT NOT NULL REFERENCES spots (id),
    starts_at       INTEGER NOT NULL,
    ends_at         INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'checked_in', 'completed', 'cancelled', 'expired', 'no_show')),
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    currency        TEXT NOT NULL,
    hold_expires_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    checked_in_at   INTEGER,
    checked_out_at  INTEGER,
    CHECK (ends_at > starts_at)
);
-- Overlap checks ask "ends_at > from": keyed on ends_at they skip a spot's history.
CREATE INDEX reservations_spot_window ON reservations (spot_id, ends_at, starts_at);
CREATE INDEX reservations_lot_window ON reservations (lot_id, ends_at, starts_at);
CREATE INDEX reservations_user ON reservations (user_id, starts_at);
CREATE INDEX reservations_held ON reservations (hold_expires_at) WHERE status = 'held';

-- Invariant 1, enforced by the database: no two blocking reservations share a spot
-- over overlapping half-open windows. A hold blocks until its expiry; "now" for
-- the check is the time the row is written (created_at, or updated_at on update).
CREATE TRIGGER reservations_no_overlap_insert
BEFORE INSERT ON reservations
WHEN NEW.status IN ('held', 'confirmed', 'checked_in')
BEGIN
    SELECT RAISE(ABORT, 'reservation overlaps another on this spot')
    WHERE EXISTS (
        SELECT 1 FROM reservations r
        WHERE r.spot_id = NEW.spot_id
          AND r.starts_at < NEW.ends_at AND r.ends_at > NEW.starts_at
          AND (r.status IN ('confirmed', 'checked_in')
               OR (r.status = 'held' AND r.hold_expires_at > NEW.created_at)));
END;

CREATE TRIGGER reservations_no_overlap_update
BEFORE UPDATE OF status, spot_id, starts_at, ends_at ON reservations
WHEN NEW.status IN ('held', 'confirmed', 'checked_in')
BEGIN
    SELECT RAISE(ABORT, 'reservation overlaps another on this spot')
    WHERE EXISTS (
        SELECT 1 FROM reservations r
        WHERE r.spot_id = NEW.spot_id AND r.id <> NEW.id
          AND r.starts_at < NEW.ends_at AND r.ends_at > NEW.starts_at
          AND (r.status IN ('confirmed', 'checked_in')
               OR (r.status = 'held' AND r.hold_expires_at > NEW.updated_at)));
END;

CREATE TABLE payments (
    id             TEXT PRIMARY KEY,
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    user_id        TEXT REFERENCES users (id),
    kind           TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
    amount         INTEGER NOT NULL CHECK (amount >= 0),
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL,
    gateway        TEXT NOT NULL,
    gateway_id     TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX payments_reservation ON payments (reservation_id);
CREATE INDEX payments_user ON payments (user_id, created_at);

-- Gate events are append-only: the triggers refuse changes and deletions.
CREATE TABLE gate_events (
    id             TEXT PRIMARY KEY,
    lot_id         TEXT NOT NULL REFERENCES lots (id),
    gate_id        TEXT NOT NULL,
    direction      TEXT NOT NULL CHECK (direction IN ('entry', 'exit')),
    reservation_id TEXT REFERENCES reservations (id),
    plate          TEXT NOT NULL DEFAULT '',
    decision       TEXT NOT NULL CHECK (decision IN ('open', 'deny')),
    reason         TEXT NOT NULL DEFAULT '',
    at             INTEGER NOT NULL
);
CREATE INDEX gate_events_lot_at ON gate_events (lot_id, at);
CREATE TRIGGER gate_events_no_update BEFORE UPDATE ON gate_events
BEGIN SELECT RAISE(ABORT, 'gate events are append-only'); END;
CREATE TRIGGER gate_events_no_delete BEFORE DELETE ON gate_events
BEGIN SELECT RAISE(ABORT, 'gate events are append-only'); END;

-- The outbox: every state change writes its event in the same transaction.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_id         TEXT NOT NULL,
    type           TEXT NOT NULL,
    spot_id        TEXT NOT NULL DEFAULT '',
    reservation_id TEXT NOT NULL DEFAULT '',
    at             INTEGER NOT NULL
);
CREATE INDEX events_lot_seq ON events (lot_id, seq);

CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER, -- NULL while the first request is in flight
    response_body BLOB,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
