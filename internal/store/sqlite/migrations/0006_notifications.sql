-- Notifications: an outbox derived from events (see internal/notify). Each row
-- is one message to one recipient over one channel; dedupe_key is unique, so
-- deriving the same thing twice stores it once.
CREATE TABLE notifications (
    id             TEXT PRIMARY KEY,
    dedupe_key     TEXT NOT NULL UNIQUE,
    channel        TEXT NOT NULL CHECK (channel IN ('email', 'in_app', 'webhook')),
    kind           TEXT NOT NULL,
    user_id        TEXT REFERENCES users (id),
    operator_id    TEXT REFERENCES operators (id),
    lot_id         TEXT NOT NULL DEFAULT '',
    reservation_id TEXT NOT NULL DEFAULT '',
    payment_id     TEXT NOT NULL DEFAULT '',
    event_seq      INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    due_at         INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    claim_token    TEXT NOT NULL DEFAULT '',
    claimed_until  INTEGER,
    subject        TEXT NOT NULL DEFAULT '',
    body           TEXT NOT NULL DEFAULT '',
    payload        BLOB,
    last_error     TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    sent_at        INTEGER,
    read_at        INTEGER
);
-- The worker's claim reads only what is pending, by due time.
CREATE INDEX notifications_due ON notifications (due_at) WHERE status = 'pending';
CREATE INDEX notifications_user ON notifications (user_id, sent_at) WHERE channel = 'in_app' AND status = 'sent';
CREATE INDEX notifications_user_pending ON notifications (user_id, kind) WHERE status = 'pending';

-- Where each notifier has read the events table up to.
CREATE TABLE notify_cursor (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
);
-- A database that has history starts after it: old events notify nobody.
INSERT INTO notify_cursor (name, seq) SELECT 'notifications', COALESCE(max(seq), 0) FROM events;

CREATE TABLE notification_settings (
    user_id          TEXT PRIMARY KEY REFERENCES users (id),
    email            INTEGER NOT NULL,
    in_app           INTEGER NOT NULL,
    reminders        INTEGER NOT NULL,
    reminder_lead_us INTEGER NOT NULL,
    ending_lead_us   INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE operator_webhooks (
    operator_id TEXT PRIMARY KEY REFERENCES operators (id),
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
