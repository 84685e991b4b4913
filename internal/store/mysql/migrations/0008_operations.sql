-- Running parkd: retention, job claims and reports. Numbered as the other
-- backends' 0008, so that one version names one schema on every backend
-- (0001_schema.sql is their 0001 to 0007).

-- Retention (Store.Prune) deletes in bounded batches by these; without them
-- every batch would read the whole table.
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE INDEX webhook_events_received ON webhook_events (received_at);

CREATE INDEX notifications_created ON notifications (created_at);

-- Reports read a lot's payments by when they last moved (Store.LotPayments).
CREATE INDEX payments_updated ON payments (updated_at);

-- Periodic jobs that run once across instances (Store.ClaimJob): the next run
-- of each, claimed by the first instance to find it due.
CREATE TABLE job_runs (
    name        VARCHAR(64) NOT NULL PRIMARY KEY,
    next_run_at DATETIME(6) NOT NULL,
    holder      VARCHAR(255) NOT NULL,
    claimed_at  DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
