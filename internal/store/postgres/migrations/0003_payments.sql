ALTER TABLE payments ADD COLUMN payment_method text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN card_brand text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN card_last4 text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN failure_code text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN refund_of text REFERENCES payments (id);

-- At most one live charge per reservation: two payment requests that race
-- (even with different idempotency keys) cannot both charge.
CREATE UNIQUE INDEX payments_one_live_charge ON payments (reservation_id)
    WHERE kind = 'charge' AND status IN ('pending', 'succeeded');
-- gateway_id leads so that Store.PaymentByGatewayID, which knows only the
-- gateway's id (a webhook names no parkd gateway), can use the index.
CREATE UNIQUE INDEX payments_gateway_id ON payments (gateway_id, gateway) WHERE gateway_id <> '';

-- Webhook events already handled, so a redelivered event changes nothing.
CREATE TABLE webhook_events (
    id          text PRIMARY KEY,
    received_at timestamptz NOT NULL
);

-- At most one live refund per charge: a retried refund cannot pay back twice.
CREATE UNIQUE INDEX payments_one_live_refund ON payments (refund_of)
    WHERE kind = 'refund' AND status IN ('pending', 'succeeded');
