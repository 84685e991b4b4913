-- The refund retry job (Store.ClaimPendingRefunds, every minute on every
-- instance) asks for the oldest pending refunds. Without an index it read the
-- whole payments table: on issue 16's data set (21 million payments) that is a
-- sequential scan longer than parkd's 10 s hold limit, so the job failed every
-- minute and no pending refund was ever retried. The index holds only pending
-- refunds (a handful), in the order the job reads them. MariaDB has had its
-- own since its first migration (payments_pending_refunds).
--
-- Building it reads the payments table once, holding off writes to payments
-- meanwhile: about a minute for 21 million rows on 2 cores.
CREATE INDEX payments_pending_refunds ON payments (created_at, id)
    WHERE kind = 'refund' AND status = 'pending';
