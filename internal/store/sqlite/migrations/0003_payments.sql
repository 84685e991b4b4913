ALTER TABLE payments ADD COLUMN payment_method TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN card_brand TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN card_last4 TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN failure_code TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN refund_of TEXT REFERENCES payments (id);

-- At most one live charge per reservation: two payment requests that race
-- (even with different idempotency keys) cannot both charge.
CREATE UNIQUE INDEX payments_one_live_charge ON payments (reservation_id)
    WHERE kind = 'charge' AND status IN ('pending', 'succeeded');
CREATE UNIQUE INDEX payments_gateway_id ON payments (gateway_id, gateway) WHERE gateway_id <> '';

-- Webhook events already handled, so a redelivered event changes nothing.
CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
);

-- At most one live refund per charge: a retried refund cannot pay back twice.
CREATE UNIQUE INDEX payments_one_live_refund ON payments (refund_of)
    WHERE kind = 'refund' AND status IN ('pending', 'succeeded');
