-- parkd's schema on MariaDB (10.6+) and MySQL (8.0+), as the SQLite and
-- PostgreSQL migrations 0001 to 0007 have built it there.
--
-- Conventions:
-- * Times are DATETIME(6) in UTC (the store sets the session's time zone to
--   UTC and writes every time itself).
-- * Tables are InnoDB in utf8mb4 with a binary collation, so that text compares
--   byte for byte as on the other backends (emails, labels and keys are case
--   sensitive). The store swaps utf8mb4_bin below for the server's binary
--   collation without PAD SPACE (utf8mb4_nopad_bin on MariaDB,
--   utf8mb4_0900_bin on MySQL), so that 'A1' and 'A1 ' differ too.
-- * MySQL has no partial indexes: a unique rule over some rows only (a live
--   charge, a live refund) is a UNIQUE key over a generated column that is NULL
--   for the other rows, since a unique key lets any number of NULLs through.
-- * MySQL has no exclusion constraint either: no two reservations that hold
--   their spot may overlap, and this is enforced by the store under a lock on
--   the spot's row (see package mysql).
-- * Each statement ends with a semicolon at the end of a line; the store runs
--   them one at a time (DDL commits on its own), recording its progress, and
--   each must be safe to run again after a crash (see migrate.go).

CREATE TABLE operators (
    id         VARCHAR(64) NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lots (
    id               VARCHAR(64) NOT NULL PRIMARY KEY,
    operator_id      VARCHAR(64) NOT NULL,
    name             VARCHAR(255) NOT NULL,
    address          TEXT NOT NULL,
    lat              DOUBLE NOT NULL,
    lng              DOUBLE NOT NULL,
    time_zone        VARCHAR(64) NOT NULL,
    currency         CHAR(3) NOT NULL,
    policy           TEXT NOT NULL, -- JSON
    -- The policy's no-show window in microseconds, for the queries to add to
    -- starts_at: a confirmed reservation nobody checked in by starts_at plus
    -- this no longer holds its spot.
    no_show_after_us BIGINT NOT NULL DEFAULT 900000000,
    created_at       DATETIME(6) NOT NULL,
    KEY lots_name (name, id),
    CONSTRAINT lots_operator_id_fkey FOREIGN KEY (operator_id) REFERENCES operators (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE levels (
    id      VARCHAR(64) NOT NULL PRIMARY KEY,
    lot_id  VARCHAR(64) NOT NULL,
    name    TEXT NOT NULL,
    ordinal INT NOT NULL,
    width   DOUBLE NOT NULL,
    height  DOUBLE NOT NULL,
    KEY levels_lot (lot_id, ordinal),
    CONSTRAINT levels_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES lots (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every writer of a reservation's claim locks its spot's row first.
CREATE TABLE spots (
    id         VARCHAR(64) NOT NULL PRIMARY KEY,
    lot_id     VARCHAR(64) NOT NULL,
    level_id   VARCHAR(64) NOT NULL,
    label      VARCHAR(255) NOT NULL,
    size       SMALLINT NOT NULL,
    lat        DOUBLE NOT NULL,
    lng        DOUBLE NOT NULL,
    x          DOUBLE NOT NULL,
    y          DOUBLE NOT NULL,
    amenities  TEXT NOT NULL, -- JSON array
    in_service BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE KEY spots_lot_label (lot_id, label),
    KEY spots_lot_size (lot_id, size, label),
    CONSTRAINT spots_size CHECK (size BETWEEN 1 AND 4),
    CONSTRAINT spots_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES lots (id),
    CONSTRAINT spots_level_id_fkey FOREIGN KEY (level_id) REFERENCES levels (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE users (
    id            VARCHAR(64) NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL,
    email         VARCHAR(255) NOT NULL,
    password_hash TEXT NOT NULL,
    role          VARCHAR(16) NOT NULL,
    operator_id   VARCHAR(64),
    created_at    DATETIME(6) NOT NULL,
    UNIQUE KEY users_email (email),
    CONSTRAINT users_role CHECK (role IN ('driver', 'operator', 'admin')),
    CONSTRAINT users_operator_id_fkey FOREIGN KEY (operator_id) REFERENCES operators (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE vehicles (
    id         VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id    VARCHAR(64) NOT NULL,
    plate      VARCHAR(64) NOT NULL,
    size       SMALLINT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    -- A removed vehicle leaves its owner's list but stays for the reservations that name it.
    deleted_at DATETIME(6),
    KEY vehicles_user (user_id, created_at),
    CONSTRAINT vehicles_size CHECK (size BETWEEN 1 AND 4),
    CONSTRAINT vehicles_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE reservations (
    id                  VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id             VARCHAR(64),
    vehicle_id          VARCHAR(64),
    plate               VARCHAR(64) NOT NULL,
    vehicle_size        SMALLINT NOT NULL,
    lot_id              VARCHAR(64) NOT NULL,
    spot_id             VARCHAR(64) NOT NULL,
    starts_at           DATETIME(6) NOT NULL,
    ends_at             DATETIME(6) NOT NULL,
    status              VARCHAR(16) NOT NULL,
    amount              BIGINT NOT NULL,
    currency            CHAR(3) NOT NULL,
    hold_expires_at     DATETIME(6) NOT NULL,
    created_at          DATETIME(6) NOT NULL,
    updated_at          DATETIME(6) NOT NULL,
    checked_in_at       DATETIME(6),
    checked_out_at      DATETIME(6),
    -- Set once, by Store.FlagOverstays: an overstay is announced exactly once.
    overstay_flagged_at DATETIME(6),
    -- The spot the lot last moved this booking from, and why the lot (not the
    -- driver) last moved or cancelled it.
    moved_from          VARCHAR(64) NOT NULL DEFAULT '',
    change_reason       VARCHAR(32) NOT NULL DEFAULT '',
    -- The size the window was priced at; NULL when not recorded.
    price_size          SMALLINT,
    -- A spot's claims, by end: overlap checks ask "ends_at > from", which
    -- skips the spot's history.
    KEY reservations_spot_window (spot_id, ends_at, starts_at),
    -- A lot's reservations of a window (availability, the operator's list).
    -- It holds every column availability reads (Store.Bookings), so that
    -- query reads the index alone.
    KEY reservations_lot_window (lot_id, ends_at, starts_at, status, hold_expires_at, spot_id),
    -- The few rows of a lot or a spot in one status: the cars inside, the
    -- confirmed reservations a no-show sweep reads.
    KEY reservations_lot_status (lot_id, status, starts_at),
    KEY reservations_spot_status (spot_id, status, starts_at),
    KEY reservations_user (user_id, starts_at),
    -- The holds to expire, and (by status alone) the bookings the lot cancelled.
    KEY reservations_held (status, hold_expires_at),
    CONSTRAINT reservations_window CHECK (ends_at > starts_at),
    CONSTRAINT reservations_status CHECK (status IN ('held', 'confirmed', 'checked_in', 'completed', 'cancelled', 'expired', 'no_show')),
    CONSTRAINT reservations_vehicle_size CHECK (vehicle_size BETWEEN 1 AND 4),
    CONSTRAINT reservations_price_size CHECK (price_size BETWEEN 1 AND 4),
    CONSTRAINT reservations_amount CHECK (amount >= 0),
    CONSTRAINT reservations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT reservations_vehicle_id_fkey FOREIGN KEY (vehicle_id) REFERENCES vehicles (id),
    CONSTRAINT reservations_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES lots (id),
    CONSTRAINT reservations_spot_id_fkey FOREIGN KEY (spot_id) REFERENCES spots (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE payments (
    id             VARCHAR(64) NOT NULL PRIMARY KEY,
    reservation_id VARCHAR(64) NOT NULL,
    user_id        VARCHAR(64),
    kind           VARCHAR(16) NOT NULL,
    amount         BIGINT NOT NULL,
    currency       CHAR(3) NOT NULL,
    status         VARCHAR(16) NOT NULL,
    gateway        VARCHAR(64) NOT NULL,
    gateway_id     VARCHAR(255) NOT NULL DEFAULT '',
    payment_method VARCHAR(255) NOT NULL DEFAULT '',
    card_brand     VARCHAR(64) NOT NULL DEFAULT '',
    card_last4     VARCHAR(8) NOT NULL DEFAULT '',
    failure_code   VARCHAR(255) NOT NULL DEFAULT '',
    refund_of      VARCHAR(64),
    -- What a charge pays for: the booking, or an overstay.
    purpose        VARCHAR(16) NOT NULL DEFAULT 'booking',
    created_at     DATETIME(6) NOT NULL,
    updated_at     DATETIME(6) NOT NULL,
    -- A booking charge that pays for extending the reservation's end from one
    -- to the other.
    extends_from   DATETIME(6),
    extends_to     DATETIME(6),
    -- At most one live charge per reservation and purpose, besides the
    -- extensions' own: two payment requests that race (even with different
    -- idempotency keys) cannot both charge.
    live_charge_of VARCHAR(64) AS (CASE WHEN kind = 'charge' AND status IN ('pending', 'succeeded') AND extends_to IS NULL
        THEN reservation_id END) STORED,
    -- At most one extension being paid at a time.
    pending_extension_of VARCHAR(64) AS (CASE WHEN kind = 'charge' AND status = 'pending' AND extends_to IS NOT NULL
        THEN reservation_id END) STORED,
    -- At most one live refund per charge: a retried refund cannot pay back twice.
    live_refund_of VARCHAR(64) AS (CASE WHEN kind = 'refund' AND status IN ('pending', 'succeeded') THEN refund_of END) STORED,
    -- A gateway's id names one payment; empty (not sent yet) names none.
    gateway_key    VARCHAR(255) AS (NULLIF(gateway_id, '')) STORED,
    UNIQUE KEY payments_one_live_charge (live_charge_of, purpose),
    UNIQUE KEY payments_one_pending_extension (pending_extension_of),
    UNIQUE KEY payments_one_live_refund (live_refund_of),
    -- gateway_key leads so that Store.PaymentByGatewayID, which knows only the
    -- gateway's id, can use the key.
    UNIQUE KEY payments_gateway_id (gateway_key, gateway),
    KEY payments_reservation (reservation_id, created_at),
    KEY payments_user (user_id, created_at),
    KEY payments_pending_refunds (kind, status, created_at),
    CONSTRAINT payments_kind CHECK (kind IN ('charge', 'refund')),
    CONSTRAINT payments_amount CHECK (amount >= 0),
    CONSTRAINT payments_purpose CHECK (purpose IN ('booking', 'overstay')),
    CONSTRAINT payments_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES reservations (id),
    CONSTRAINT payments_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT payments_refund_of_fkey FOREIGN KEY (refund_of) REFERENCES payments (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Webhook events already handled, so a redelivered event changes nothing.
CREATE TABLE webhook_events (
    id          VARCHAR(255) NOT NULL PRIMARY KEY,
    received_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A payment method a driver saved, with their consent, for charges made while
-- they are away from the screen (overstays at the exit).
CREATE TABLE saved_payment_methods (
    user_id        VARCHAR(64) NOT NULL PRIMARY KEY,
    payment_method VARCHAR(255) NOT NULL,
    consented_at   DATETIME(6) NOT NULL,
    CONSTRAINT saved_payment_methods_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The gate log: append-only (the triggers below refuse changes and deletions).
CREATE TABLE gate_events (
    id             VARCHAR(64) NOT NULL PRIMARY KEY,
    lot_id         VARCHAR(64) NOT NULL,
    gate_id        VARCHAR(64) NOT NULL,
    direction      VARCHAR(8) NOT NULL,
    reservation_id VARCHAR(64),
    plate          VARCHAR(64) NOT NULL DEFAULT '',
    decision       VARCHAR(8) NOT NULL,
    reason         TEXT NOT NULL,
    actor_id       VARCHAR(64) NOT NULL DEFAULT '',
    amount_due     BIGINT NOT NULL DEFAULT 0,
    at             DATETIME(6) NOT NULL,
    KEY gate_events_lot_at (lot_id, at, id),
    KEY gate_events_reservation (reservation_id, at),
    CONSTRAINT gate_events_direction CHECK (direction IN ('entry', 'exit')),
    CONSTRAINT gate_events_decision CHECK (decision IN ('open', 'deny')),
    CONSTRAINT gate_events_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES lots (id),
    CONSTRAINT gate_events_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES reservations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TRIGGER gate_events_no_update BEFORE UPDATE ON gate_events
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'gate events are append-only';

CREATE TRIGGER gate_events_no_delete BEFORE DELETE ON gate_events
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'gate events are append-only';

-- The outbox: every state change writes its event in the same transaction.
-- seq is taken when the event is inserted, so a lower one can commit after a
-- higher one (Store.EventsSince).
CREATE TABLE events (
    seq            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    lot_id         VARCHAR(64) NOT NULL,
    type           VARCHAR(64) NOT NULL,
    spot_id        VARCHAR(64) NOT NULL DEFAULT '',
    reservation_id VARCHAR(64) NOT NULL DEFAULT '',
    at             DATETIME(6) NOT NULL,
    KEY events_lot_seq (lot_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE idempotency_keys (
    user_id       VARCHAR(64) NOT NULL,
    `key`         VARCHAR(255) NOT NULL,
    request_hash  VARCHAR(255) NOT NULL,
    status_code   INT, -- NULL while the first request is in flight
    response_body MEDIUMBLOB,
    created_at    DATETIME(6) NOT NULL,
    expires_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, `key`),
    KEY idempotency_keys_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Sessions: only a hash of each bearer token is kept.
CREATE TABLE sessions (
    token_hash VARCHAR(255) NOT NULL PRIMARY KEY,
    user_id    VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    KEY sessions_user (user_id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Gate devices, authenticated by an API key of which only the hash is kept.
CREATE TABLE gates (
    id         VARCHAR(64) NOT NULL PRIMARY KEY,
    lot_id     VARCHAR(64) NOT NULL,
    name       VARCHAR(255) NOT NULL,
    direction  VARCHAR(8) NOT NULL,
    key_hash   VARCHAR(255) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY gates_key_hash (key_hash),
    KEY gates_lot (lot_id, name, id),
    CONSTRAINT gates_direction CHECK (direction IN ('entry', 'exit')),
    CONSTRAINT gates_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES lots (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Keys that sign drivers' gate passes, shared by every instance on the database.
CREATE TABLE pass_keys (
    id         VARCHAR(64) NOT NULL PRIMARY KEY,
    secret     VARBINARY(1024) NOT NULL,
    created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Notifications: an outbox derived from events (see internal/notify). Each row
-- is one message to one recipient over one channel; dedupe_key is unique, so
-- deriving the same thing twice (a restart, two instances) stores it once.
CREATE TABLE notifications (
    id             VARCHAR(64) NOT NULL PRIMARY KEY,
    dedupe_key     VARCHAR(255) NOT NULL,
    channel        VARCHAR(16) NOT NULL,
    kind           VARCHAR(64) NOT NULL,
    user_id        VARCHAR(64),
    operator_id    VARCHAR(64),
    lot_id         VARCHAR(64) NOT NULL DEFAULT '',
    reservation_id VARCHAR(64) NOT NULL DEFAULT '',
    payment_id     VARCHAR(64) NOT NULL DEFAULT '',
    event_seq      BIGINT NOT NULL DEFAULT 0,
    status         VARCHAR(16) NOT NULL,
    due_at         DATETIME(6) NOT NULL,
    attempts       INT NOT NULL DEFAULT 0,
    claim_token    VARCHAR(64) NOT NULL DEFAULT '',
    claimed_until  DATETIME(6),
    subject        TEXT NOT NULL,
    body           MEDIUMTEXT NOT NULL,
    payload        MEDIUMBLOB,
    last_error     TEXT NOT NULL,
    created_at     DATETIME(6) NOT NULL,
    sent_at        DATETIME(6),
    read_at        DATETIME(6),
    UNIQUE KEY notifications_dedupe (dedupe_key),
    -- The worker's claim reads what is pending, by due time.
    KEY notifications_due (status, due_at, id),
    KEY notifications_user (user_id, channel, status, sent_at),
    CONSTRAINT notifications_channel CHECK (channel IN ('email', 'in_app', 'webhook')),
    CONSTRAINT notifications_status CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT notifications_operator_id_fkey FOREIGN KEY (operator_id) REFERENCES operators (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Where each notifier has read the events table up to.
CREATE TABLE notify_cursor (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    seq  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A database that has history starts after it: old events notify nobody.
INSERT INTO notify_cursor (name, seq) SELECT 'notifications', COALESCE(MAX(seq), 0) FROM events;

CREATE TABLE notification_settings (
    user_id          VARCHAR(64) NOT NULL PRIMARY KEY,
    email            BOOLEAN NOT NULL,
    in_app           BOOLEAN NOT NULL,
    reminders        BOOLEAN NOT NULL,
    reminder_lead_us BIGINT NOT NULL,
    ending_lead_us   BIGINT NOT NULL,
    updated_at       DATETIME(6) NOT NULL,
    CONSTRAINT notification_settings_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE operator_webhooks (
    operator_id VARCHAR(64) NOT NULL PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    CONSTRAINT operator_webhooks_operator_id_fkey FOREIGN KEY (operator_id) REFERENCES operators (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
