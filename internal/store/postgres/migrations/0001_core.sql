CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE operators (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE lots (
    id          text PRIMARY KEY,
    operator_id text NOT NULL REFERENCES operators (id),
    name        text NOT NULL,
    address     text NOT NULL,
    lat         double precision NOT NULL,
    lng         double precision NOT NULL,
    time_zone   text NOT NULL,
    currency    char(3) NOT NULL,
    policy      jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX lots_operator ON lots (operator_id);

CREATE TABLE levels (
    id      text PRIMARY KEY,
    lot_id  text NOT NULL REFERENCES lots (id),
    name    text NOT NULL,
    ordinal integer NOT NULL,
    width   double precision NOT NULL,
    height  double precision NOT NULL
);
CREATE INDEX levels_lot ON levels (lot_id, ordinal);

CREATE TABLE spots (
    id         text PRIMARY KEY,
    lot_id     text NOT NULL REFERENCES lots (id),
    level_id   text NOT NULL REFERENCES levels (id),
    label      text NOT NULL,
    size       smallint NOT NULL CHECK (size BETWEEN 1 AND 4),
    lat        double precision NOT NULL,
    lng        double precision NOT NULL,
    x          double precision NOT NULL,
    y          double precision NOT NULL,
    amenities  text[] NOT NULL DEFAULT '{}',
    in_service boolean NOT NULL DEFAULT true,
    UNIQUE (lot_id, label)
);
CREATE INDEX spots_lot_size ON spots (lot_id, size, label);

CREATE TABLE users (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('driver', 'operator', 'admin')),
    operator_id   text REFERENCES operators (id),
    created_at    timestamptz NOT NULL
);

CREATE TABLE vehicles (
    id         text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id),
    plate      text NOT NULL,
    size       smallint NOT NULL CHECK (size BETWEEN 1 AND 4),
    created_at timestamptz NOT NULL
);
CREATE INDEX vehicles_user ON vehicles (user_id);

CREATE TABLE reservations (
    id              text PRIMARY KEY,
    user_id         text REFERENCES users (id),
    vehicle_id      text REFERENCES vehicles (id),
    plate           text NOT NULL,
    vehicle_size    smallint NOT NULL CHECK (vehicle_size BETWEEN 1 AND 4),
    lot_id          text NOT NULL REFERENCES lots (id),
    spot_id         text NOT NULL REFERENCES spots (id),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('held', 'confirmed', 'checked_in', 'completed', 'cancelled', 'expired', 'no_show')),
    amount          bigint NOT NULL CHECK (amount >= 0),
    currency        char(3) NOT NULL,
    hold_expires_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    checked_in_at   timestamptz,
    checked_out_at  timestamptz,
    CHECK (ends_at > starts_at),
    -- Invariant 1, enforced by the database: no two reservations that hold their
    -- spot share it over overlapping half-open windows. A hold whose expiry has
    -- passed is set to 'expired' in the same transaction before a new hold goes in.
    CONSTRAINT reservations_no_overlap EXCLUDE USING gist (
        spot_id WITH =,
        tstzrange(starts_at, ends_at, '[)') WITH &&
    ) WHERE (status IN ('held', 'confirmed', 'checked_in'))
);
-- Availability (Store.Bookings) reads only reservations that can block, so the
-- index holds only those: finished ones would otherwise pile up in front of
-- every window (starts_at < window end matches all of a lot's history). It
-- covers the columns the query reads, for an index-only scan.
CREATE INDEX reservations_lot_window ON reservations (lot_id, starts_at)
    INCLUDE (ends_at, spot_id, status, hold_expires_at)
    WHERE status IN ('held', 'confirmed', 'checked_in');
CREATE INDEX reservations_user ON reservations (user_id, starts_at);
CREATE INDEX reservations_held ON reservations (hold_expires_at) WHERE status = 'held';

CREATE TABLE payments (
    id             text PRIMARY KEY,
    reservation_id text NOT NULL REFERENCES reservations (id),
    user_id        text REFERENCES users (id),
    kind           text NOT NULL CHECK (kind IN ('charge', 'refund')),
    amount         bigint NOT NULL CHECK (amount >= 0),
    currency       char(3) NOT NULL,
    status         text NOT NULL,
    gateway        text NOT NULL,
    gateway_id     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX payments_reservation ON payments (reservation_id);
CREATE INDEX payments_user ON payments (user_id, created_at);

CREATE TABLE gate_events (
    id             text PRIMARY KEY,
    lot_id         text NOT NULL REFERENCES lots (id),
    gate_id        text NOT NULL,
    direction      text NOT NULL CHECK (direction IN ('entry', 'exit')),
    reservation_id text REFERENCES reservations (id),
    plate          text NOT NULL DEFAULT '',
    decision       text NOT NULL CHECK (decision IN ('open', 'deny')),
    reason         text NOT NULL DEFAULT '',
    at             timestamptz NOT NULL
);
CREATE INDEX gate_events_lot_at ON gate_events (lot_id, at);

-- Gate events are append-only.
CREATE FUNCTION gate_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'gate events are append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER gate_events_append_only BEFORE UPDATE OR DELETE ON gate_events
    FOR EACH ROW EXECUTE FUNCTION gate_events_append_only();

-- The outbox: every state change writes its event in the same transaction.
CREATE TABLE events (
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lot_id         text NOT NULL,
    type           text NOT NULL,
    spot_id        text NOT NULL DEFAULT '',
    reservation_id text NOT NULL DEFAULT '',
    at             timestamptz NOT NULL
);
CREATE INDEX events_lot_seq ON events (lot_id, seq);

CREATE TABLE idempotency_keys (
    user_id       text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    status_code   integer, -- NULL while the first request is in flight
    response_body bytea,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
