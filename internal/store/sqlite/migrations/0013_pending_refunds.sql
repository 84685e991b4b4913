-- The refund retry job (Store.ClaimPendingRefunds, every minute) asks for the
-- oldest pending refunds; without an index it read the whole payments table
-- (PostgreSQL's migration 0017 says what that cost on issue 16's data set).
-- Only pending refunds, in the order the job reads them. MariaDB has had its
-- own since its first migration.
CREATE INDEX payments_pending_refunds ON payments (created_at, id)
    WHERE kind = 'refund' AND status = 'pending';
