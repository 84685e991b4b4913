package payments

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"

	"parkd/internal/webhook"
)

// SignatureHeader is the header in which Stripe, and the sandbox, sign webhooks.
const SignatureHeader = "Stripe-Signature"

// SignWebhook returns the Stripe-Signature header value with which
// Stripe would sign payload at t (webhook.Sign): the sandbox signs its
// webhooks with it, and tests theirs.
func SignWebhook(secret string, payload []byte, t time.Time) string {
	return webhook.Sign(secret, payload, t)
}

// VerifyWebhook checks a Stripe-Signature header against payload: some v1
// signature must match (compared in constant time) and its timestamp must lie
// within WebhookTolerance of now, either way, so a captured webhook cannot be
// replayed later. It is done here rather than with stripe-go's webhook package
// because that compares with time.Now(), and parkd's time comes from its clock.
func VerifyWebhook(secret string, payload []byte, header string, now time.Time) error {
	if header == "" {
		return fmt.Errorf("%w: no %s header", ErrMalformedHook, SignatureHeader)
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %s header part %q is not key=value", ErrMalformedHook, SignatureHeader, part)
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			// Several v1 signatures come while a secret is being rolled; one
			// that is not hex cannot match and is skipped like Stripe's own
			// libraries do.
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s header has no timestamp", ErrMalformedHook, SignatureHeader)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: %s header has no v1 signature", ErrMalformedHook, SignatureHeader)
	}
	want := webhook.MAC(secret, ts, payload)
	matched := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return ErrBadSignature
	}
	// Checked after the signature so that only genuine webhooks are told
	// apart as stale; a replay, even of a genuine one, fails here.
	if age := now.Sub(time.Unix(unix, 0)); age > WebhookTolerance || age < -WebhookTolerance {
		return fmt.Errorf("%w: signed at %s, %s from now", ErrStaleWebhook, time.Unix(unix, 0).UTC().Format(time.RFC3339), age)
	}
	return nil
}

// parseStripeEvent reads a verified event in Stripe's format, which the
// sandbox sends too.
func parseStripeEvent(payload []byte) (WebhookEvent, error) {
	var ev stripe.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: %v", ErrMalformedHook, err)
	}
	if ev.ID == "" || ev.Type == "" || ev.Data == nil || len(ev.Data.Raw) == 0 {
		return WebhookEvent{}, fmt.Errorf("%w: not a Stripe event", ErrMalformedHook)
	}
	out := WebhookEvent{ID: ev.ID, Created: time.Unix(ev.Created, 0).UTC()}

	switch ev.Type {
	case "payment_intent.succeeded", "payment_intent.payment_failed":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			return WebhookEvent{}, fmt.Errorf("%w: %s object: %v", ErrMalformedHook, ev.Type, err)
		}
		out.GatewayID, out.PaymentID = pi.ID, pi.Metadata["payment_id"]
		if ch := pi.LatestCharge; ch != nil && ch.PaymentMethodDetails != nil && ch.PaymentMethodDetails.Card != nil {
			out.CardBrand = string(ch.PaymentMethodDetails.Card.Brand)
			out.CardLast4 = ch.PaymentMethodDetails.Card.Last4
		}
		if ev.Type == "payment_intent.succeeded" {
			out.Type = EventChargeSucceeded
		} else {
			out.Type = EventChargeFailed
			if pi.LastPaymentError != nil {
				out.DeclineCode = declineCode(pi.LastPaymentError)
			}
		}

	case "refund.updated":
		var ref stripe.Refund
		if err := json.Unmarshal(ev.Data.Raw, &ref); err != nil {
			return WebhookEvent{}, fmt.Errorf("%w: %s object: %v", ErrMalformedHook, ev.Type, err)
		}
		if ref.Status == stripe.RefundStatusSucceeded {
			out.Type, out.GatewayID, out.PaymentID = EventRefundSucceeded, ref.ID, ref.Metadata["payment_id"]
		}

	case "charge.refunded":
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
			return WebhookEvent{}, fmt.Errorf("%w: %s object: %v", ErrMalformedHook, ev.Type, err)
		}
		// The event is about the charge; it names the refund only when the
		// charge carries its refunds (newest first). Without one the event
		// cannot say which refund succeeded and is left to refund.updated.
		if ch.Refunds != nil {
			for _, ref := range ch.Refunds.Data {
				if ref != nil && ref.Status == stripe.RefundStatusSucceeded {
					out.Type, out.GatewayID, out.PaymentID = EventRefundSucceeded, ref.ID, ref.Metadata["payment_id"]
					break
				}
			}
		}
	}
	return out, nil
}
