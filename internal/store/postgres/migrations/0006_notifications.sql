-- Notifications: an outbox derived from events (see internal/notify). Each row
-- is one message to one recipient over one channel; dedupe_key is unique, so
-- deriving the same thing twice (a restart, two instances) stores it once.
CREATE TABLE notifications (
    id             text PRIMARY KEY,
    dedupe_key     text NOT NULL UNIQUE,
    channel        text NOT NULL CHECK (channel IN ('email', 'in_app', 'webhook')),
    kind           text NOT NULL,
    user_id        text REFERENCES users (id),
    operator_id    text REFERENCES operators (id),
    lot_id         text NOT NULL DEFAULT '',
    reservation_id text NOT NULL DEFAULT '',
    payment_id     text NOT NULL DEFAULT '',
    event_seq      bigint NOT NULL DEFAULT 0,
    status         text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    due_at         timestamptz NOT NULL,
    attempts       integer NOT NULL DEFAULT 0,
    claim_token    text NOT NULL DEFAULT '',
    claimed_until  timestamptz,
    subject        text NOT NULL DEFAULT '',
    body           text NOT NULL DEFAULT '',
    payload        bytea,
    last_error     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    sent_at        timestamptz,
    read_at        timestamptz
);
-- The worker's claim reads only what is pending, by due time.
CREATE INDEX notifications_due ON notifications (due_at) WHERE status = 'pending';
CREATE INDEX notifications_user ON notifications (user_id, sent_at) WHERE channel = 'in_app' AND status = 'sent';
CREATE INDEX notifications_user_pending ON notifications (user_id, kind) WHERE status = 'pending';

-- Where each notifier has read the events table up to.
CREATE TABLE notify_cursor (
    name text PRIMARY KEY,
    seq  bigint NOT NULL
);
-- A database that has history starts after it: old events notify nobody.
INSERT INTO notify_cursor (name, seq) SELECT 'notifications', COALESCE(max(seq), 0) FROM events;

CREATE TABLE notification_settings (
    user_id          text PRIMARY KEY REFERENCES users (id),
    email            boolean NOT NULL,
    in_app           boolean NOT NULL,
    reminders        boolean NOT NULL,
    reminder_lead_us bigint NOT NULL,
    ending_lead_us   bigint NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE operator_webhooks (
    operator_id text PRIMARY KEY REFERENCES operators (id),
    url         text NOT NULL,
    secret      text NOT NULL,
    updated_at  timestamptz NOT NULL
);
