package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// Stripe is the Gateway of Stripe: charges are PaymentIntents created and
// confirmed in one call, refunds are Refunds of a PaymentIntent, and webhooks
// are Stripe events signed with the endpoint's secret.
type Stripe struct {
	client        *stripe.Client
	webhookSecret string
}

// StripeOption configures NewStripe.
type StripeOption func(*stripe.BackendConfig)

// WithStripeURL sends API calls to baseURL instead of https://api.stripe.com,
// e.g. to stripe-mock at http://127.0.0.1:12111.
func WithStripeURL(baseURL string) StripeOption {
	return func(c *stripe.BackendConfig) { c.URL = stripe.String(baseURL) }
}

// WithStripeHTTPClient makes API calls with client.
func WithStripeHTTPClient(client *http.Client) StripeOption {
	return func(c *stripe.BackendConfig) { c.HTTPClient = client }
}

// WithStripeMaxRetries sets how often stripe-go retries a call that failed in
// a way Stripe says is safe to retry (it resends the same idempotency key).
func WithStripeMaxRetries(n int64) StripeOption {
	return func(c *stripe.BackendConfig) { c.MaxNetworkRetries = stripe.Int64(n) }
}

// NewStripe returns the Stripe gateway for an API secret key and a webhook
// endpoint's signing secret (whsec_...).
func NewStripe(secretKey, webhookSecret string, opts ...StripeOption) *Stripe {
	cfg := &stripe.BackendConfig{
		// Errors are returned to the caller, who decides what to log; stripe-go
		// would otherwise print every declined card to stderr.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	for _, opt := range opts {
		opt(cfg)
	}
	client := stripe.NewClient(secretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(cfg)))
	return &Stripe{client: client, webhookSecret: webhookSecret}
}

// Name implements Gateway.
func (s *Stripe) Name() string { return "stripe" }

// stripeMethod is the shape of a Stripe PaymentMethod id: "pm_" and letters,
// digits or underscores (pm_1N..., or test tokens such as pm_card_visa).
var stripeMethod = regexp.MustCompile(`^pm_[A-Za-z0-9_]{1,250}$`)

// CheckPaymentMethod implements Gateway: a PaymentMethod id, nothing else.
func (s *Stripe) CheckPaymentMethod(method string) error {
	if !stripeMethod.MatchString(method) {
		return ErrUnknownPaymentMethod
	}
	return nil
}

// Charge implements Gateway with a PaymentIntent created with confirm=true.
func (s *Stripe) Charge(ctx context.Context, c ChargeRequest) (ChargeResult, error) {
	params := &stripe.PaymentIntentCreateParams{
		Amount:        stripe.Int64(c.Amount),
		Currency:      stripe.String(strings.ToLower(c.Currency)),
		PaymentMethod: stripe.String(c.PaymentMethod),
		Confirm:       stripe.Bool(true),
		// Cards only: a redirect-based method would need a return_url and a
		// customer in a browser, which a server-side charge does not have.
		PaymentMethodTypes: []*string{stripe.String("card")},
		Metadata:           map[string]string{"payment_id": c.PaymentID},
		Expand:             []*string{stripe.String("latest_charge")},
	}
	if c.Description != "" {
		params.Description = stripe.String(c.Description)
	}
	if c.IdempotencyKey != "" {
		params.SetIdempotencyKey(c.IdempotencyKey)
	}

	pi, err := s.client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		var serr *stripe.Error
		if errors.As(err, &serr) && serr.Type == stripe.ErrorTypeCard {
			res := ChargeResult{Status: ChargeDeclined, DeclineCode: declineCode(serr)}
			if serr.PaymentIntent != nil {
				res.GatewayID = serr.PaymentIntent.ID
			}
			return res, nil
		}
		return ChargeResult{}, fmt.Errorf("stripe: create payment intent: %w", err)
	}

	res := ChargeResult{GatewayID: pi.ID}
	if ch := pi.LatestCharge; ch != nil && ch.PaymentMethodDetails != nil && ch.PaymentMethodDetails.Card != nil {
		res.CardBrand = string(ch.PaymentMethodDetails.Card.Brand)
		res.CardLast4 = ch.PaymentMethodDetails.Card.Last4
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		res.Status = ChargeSucceeded
	case stripe.PaymentIntentStatusRequiresPaymentMethod:
		// Stripe answers a declined confirmation with a card_error (above); a
		// PaymentIntent back here that still names a card error was declined too.
		if e := pi.LastPaymentError; e != nil && e.Type == stripe.ErrorTypeCard {
			res.Status, res.DeclineCode = ChargeDeclined, declineCode(e)
		} else {
			res.Status = ChargePending
		}
	case stripe.PaymentIntentStatusProcessing,
		stripe.PaymentIntentStatusRequiresAction,
		stripe.PaymentIntentStatusRequiresConfirmation,
		stripe.PaymentIntentStatusRequiresCapture:
		// Not decided yet: a payment_intent.succeeded or .payment_failed
		// webhook will say how it ends.
		res.Status = ChargePending
	default:
		return ChargeResult{}, fmt.Errorf("stripe: payment intent %s has unexpected status %q", pi.ID, pi.Status)
	}
	return res, nil
}

// declineCode is the most precise reason Stripe gives for a card error.
func declineCode(e *stripe.Error) string {
	if e.DeclineCode != "" {
		return string(e.DeclineCode)
	}
	return string(e.Code)
}

// Refund implements Gateway. r.ChargeID is the PaymentIntent's id.
func (s *Stripe) Refund(ctx context.Context, r RefundRequest) (RefundResult, error) {
	params := &stripe.RefundCreateParams{
		PaymentIntent: stripe.String(r.ChargeID),
		Amount:        stripe.Int64(r.Amount),
		// refund.updated webhooks carry the Refund, so it names parkd's refund.
		Metadata: map[string]string{"payment_id": r.RefundID},
	}
	if r.IdempotencyKey != "" {
		params.SetIdempotencyKey(r.IdempotencyKey)
	}
	ref, err := s.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return RefundResult{}, fmt.Errorf("stripe: create refund of %s: %w", r.ChargeID, err)
	}
	switch ref.Status {
	case stripe.RefundStatusSucceeded:
		return RefundResult{GatewayID: ref.ID, Status: ChargeSucceeded}, nil
	case stripe.RefundStatusPending, stripe.RefundStatusRequiresAction:
		return RefundResult{GatewayID: ref.ID, Status: ChargePending}, nil
	default:
		return RefundResult{}, fmt.Errorf("stripe: refund %s of %s has status %q", ref.ID, r.ChargeID, ref.Status)
	}
}

// ParseWebhook implements Gateway for Stripe's event webhooks.
func (s *Stripe) ParseWebhook(payload []byte, header http.Header, now time.Time) (WebhookEvent, error) {
	if err := VerifyWebhook(s.webhookSecret, payload, header.Get(SignatureHeader), now); err != nil {
		return WebhookEvent{}, err
	}
	return parseStripeEvent(payload)
}

// Charges lists PaymentIntents created since a time, with what was refunded of
// each (from its latest charge).
func (s *Stripe) Charges(ctx context.Context, since time.Time) ([]GatewayCharge, error) {
	params := &stripe.PaymentIntentListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()}}
	params.AddExpand("data.latest_charge")
	out := []GatewayCharge{}
	for pi, err := range s.client.V1PaymentIntents.List(ctx, params).All(ctx) {
		if err != nil {
			return nil, fmt.Errorf("stripe: list payment intents: %w", err)
		}
		c := GatewayCharge{GatewayID: pi.ID, PaymentID: pi.Metadata["payment_id"], Amount: pi.Amount,
			Currency: strings.ToUpper(string(pi.Currency)), Status: ChargePending, Created: time.Unix(pi.Created, 0).UTC()}
		switch pi.Status {
		case stripe.PaymentIntentStatusSucceeded:
			c.Status = ChargeSucceeded
		case stripe.PaymentIntentStatusCanceled:
			c.Status = ChargeDeclined
		}
		if pi.LatestCharge != nil {
			c.Refunded = pi.LatestCharge.AmountRefunded
		}
		out = append(out, c)
	}
	return out, nil
}
