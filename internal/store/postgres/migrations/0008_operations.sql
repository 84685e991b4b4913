-- Retention (Store.Prune) deletes in bounded batches by these; without them
-- every batch would read the whole table.
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX webhook_events_received ON webhook_events (received_at);
CREATE INDEX notifications_finished ON notifications (created_at) WHERE status <> 'pending';

-- Reports read a lot's payments by when they last moved (Store.LotPayments).
CREATE INDEX payments_updated ON payments (updated_at);

-- Periodic jobs that run once across instances (Store.ClaimJob): the next run
-- of each, claimed by the first instance to find it due.
CREATE TABLE job_runs (
    name        text PRIMARY KEY,
    next_run_at timestamptz NOT NULL,
    holder      text NOT NULL,
    claimed_at  timestamptz NOT NULL
);
