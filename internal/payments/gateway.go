// Package payments takes card payments for reservations through a gateway:
// charges, refunds and the gateway's webhooks, with the rules that keep money
// right (one charge per reservation, forward-only states, refunds when a paid
// hold lost its spot).
package payments

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Gateway is a card processor. Card numbers never reach parkd: a charge names a
// payment method token that the gateway issued to the client.
type Gateway interface {
	// Name identifies the gateway in stored payments ("sandbox", "stripe").
	Name() string
	// Charge charges a payment method. Retrying with the same IdempotencyKey
	// returns the first result and never charges twice.
	Charge(ctx context.Context, c ChargeRequest) (ChargeResult, error)
	// Refund returns money of a succeeded charge, idempotently per key.
	Refund(ctx context.Context, r RefundRequest) (RefundResult, error)
	// ParseWebhook verifies a webhook's signature and timestamp (at most
	// WebhookTolerance old, compared in constant time) and returns its event.
	ParseWebhook(payload []byte, header http.Header, now time.Time) (WebhookEvent, error)
	// Charges lists the gateway's charges made since a time, for reconciliation.
	Charges(ctx context.Context, since time.Time) ([]GatewayCharge, error)
	// CheckPaymentMethod refuses, with ErrUnknownPaymentMethod, a payment
	// method that has not the shape of a token this gateway issues, so that
	// nothing else (a card number, say) is ever stored or sent.
	CheckPaymentMethod(method string) error
}

// GatewayCharge is a charge as the gateway's own ledger has it.
type GatewayCharge struct {
	GatewayID string       `json:"gateway_id"`
	PaymentID string       `json:"payment_id"` // parkd's, from the metadata
	Amount    int64        `json:"amount"`
	Currency  string       `json:"currency"`
	Status    ChargeStatus `json:"status"`
	Refunded  int64        `json:"refunded"`
	Created   time.Time    `json:"created"`
}

// WebhookTolerance is how old a signed webhook may be.
const WebhookTolerance = 300 * time.Second

// ChargeRequest is one charge.
type ChargeRequest struct {
	PaymentID      string // parkd's payment id, sent as metadata so webhooks name it
	Amount         int64  // minor units
	Currency       string // ISO 4217
	PaymentMethod  string // the gateway's token, e.g. "pm_card_visa"
	Description    string
	IdempotencyKey string
}

// ChargeStatus is the outcome of a charge.
type ChargeStatus string

const (
	ChargeSucceeded ChargeStatus = "succeeded"
	ChargePending   ChargeStatus = "pending" // decided later; a webhook says how
	ChargeDeclined  ChargeStatus = "declined"
)

// ChargeResult is what the gateway answered.
type ChargeResult struct {
	GatewayID   string // the gateway's id of the charge (a PaymentIntent id for Stripe)
	Status      ChargeStatus
	DeclineCode string // for declines: "card_declined", "insufficient_funds", ...
	CardBrand   string
	CardLast4   string
}

// RefundRequest returns Amount of a succeeded charge.
type RefundRequest struct {
	RefundID       string // parkd's payment id of the refund
	ChargeID       string // the gateway's id of the charge
	Amount         int64
	Currency       string
	IdempotencyKey string
}

// RefundResult is what the gateway answered.
type RefundResult struct {
	GatewayID string
	Status    ChargeStatus // succeeded, or pending
}

// Webhook event types, as parkd names them whatever the gateway calls them.
const (
	EventChargeSucceeded = "charge.succeeded"
	EventChargeFailed    = "charge.failed"
	EventRefundSucceeded = "refund.succeeded"
)

// WebhookEvent is a verified event from the gateway.
type WebhookEvent struct {
	ID          string // the gateway's event id, for deduplication
	Type        string // one of the Event* constants; others are ignored
	GatewayID   string // the charge's (or refund's) gateway id
	PaymentID   string // parkd's payment id, from the metadata
	DeclineCode string
	CardBrand   string
	CardLast4   string
	Created     time.Time
}

// Webhook verification errors.
var (
	ErrBadSignature  = errors.New("webhook signature does not match")
	ErrStaleWebhook  = errors.New("webhook timestamp is outside the tolerance")
	ErrMalformedHook = errors.New("webhook is malformed")
)
