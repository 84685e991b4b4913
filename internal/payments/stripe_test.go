package payments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// stripeMockURL is the base URL of a running stripe-mock (.ci/stripe-mock.sh
// starts one). Without it the test is skipped on a developer's machine and
// fails in CI, which must not skip.
func stripeMockURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("STRIPE_MOCK_URL")
	if u != "" {
		return u
	}
	if os.Getenv("CI") != "" {
		t.Fatal("STRIPE_MOCK_URL is not set; CI must run stripe-mock (bash .ci/stripe-mock.sh)")
	}
	t.Skip("STRIPE_MOCK_URL is not set; run bash .ci/stripe-mock.sh and STRIPE_MOCK_URL=http://127.0.0.1:12111")
	return ""
}

// stripeRequest is what the gateway sent in one API call.
type stripeRequest struct {
	Method, Path   string
	IdempotencyKey string
	Form           url.Values
}

// recordingTransport records every request it carries.
type recordingTransport struct {
	mu       sync.Mutex
	requests []stripeRequest
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	rt.mu.Lock()
	rt.requests = append(rt.requests, stripeRequest{
		Method: req.Method, Path: req.URL.Path,
		IdempotencyKey: req.Header.Get("Idempotency-Key"),
		Form:           form,
	})
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// last is the last request carried; the test fails if there was none.
func (rt *recordingTransport) last(t *testing.T) stripeRequest {
	t.Helper()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.requests) == 0 {
		t.Fatal("no request reached the Stripe API")
	}
	return rt.requests[len(rt.requests)-1]
}

// mustStripe returns a Stripe gateway on baseURL whose requests are recorded.
func mustStripe(t *testing.T, baseURL string) (*Stripe, *recordingTransport) {
	t.Helper()
	rt := &recordingTransport{}
	s := NewStripe("sk_test_123", "whsec_test", WithStripeURL(baseURL),
		WithStripeHTTPClient(&http.Client{Transport: rt, Timeout: 10 * time.Second}),
		WithStripeMaxRetries(0))
	return s, rt
}

func wantStripeForm(t *testing.T, req stripeRequest, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := req.Form.Get(k); got != v {
			t.Errorf("%s %s sent %s=%q; want %q", req.Method, req.Path, k, got, v)
		}
	}
}

var _ Gateway = (*Stripe)(nil)

func TestStripeName(t *testing.T) {
	if got := NewStripe("sk_test_123", "whsec_test").Name(); got != "stripe" {
		t.Errorf("Name() = %q; want %q", got, "stripe")
	}
}

func TestStripeChargeOnStripeMock(t *testing.T) {
	s, rt := mustStripe(t, stripeMockURL(t))
	req := ChargeRequest{
		PaymentID: "pay_01", Amount: 1250, Currency: "EUR", PaymentMethod: "pm_card_visa",
		Description: "reservation res_01", IdempotencyKey: "charge-pay_01",
	}
	res, err := s.Charge(context.Background(), req)
	if err != nil {
		t.Fatalf("Charge(%+v) error: %v", req, err)
	}
	if !strings.HasPrefix(res.GatewayID, "pi_") {
		t.Errorf("Charge(...).GatewayID = %q; want a PaymentIntent id pi_...", res.GatewayID)
	}
	// stripe-mock answers with a fixture whose status is requires_payment_method
	// (it confirms nothing), which is pending: real Stripe says succeeded here.
	if res.Status != ChargeSucceeded && res.Status != ChargePending {
		t.Errorf("Charge(...).Status = %q; want %q or %q", res.Status, ChargeSucceeded, ChargePending)
	}
	t.Logf("stripe-mock charge: %+v", res)

	sent := rt.last(t)
	if sent.Method != http.MethodPost || sent.Path != "/v1/payment_intents" {
		t.Errorf("Charge sent %s %s; want POST /v1/payment_intents", sent.Method, sent.Path)
	}
	if sent.IdempotencyKey != req.IdempotencyKey {
		t.Errorf("Charge sent Idempotency-Key %q; want %q", sent.IdempotencyKey, req.IdempotencyKey)
	}
	wantStripeForm(t, sent, map[string]string{
		"amount": "1250", "currency": "eur", "payment_method": "pm_card_visa", "confirm": "true",
		"payment_method_types[0]": "card", "metadata[payment_id]": "pay_01",
		"description": "reservation res_01",
	})
}

func TestStripeRefundOnStripeMock(t *testing.T) {
	s, rt := mustStripe(t, stripeMockURL(t))
	req := RefundRequest{RefundID: "pay_02", ChargeID: "pi_123", Amount: 500, Currency: "eur", IdempotencyKey: "refund-pay_02"}
	res, err := s.Refund(context.Background(), req)
	if err != nil {
		t.Fatalf("Refund(%+v) error: %v", req, err)
	}
	if !strings.HasPrefix(res.GatewayID, "re_") {
		t.Errorf("Refund(...).GatewayID = %q; want a refund id re_...", res.GatewayID)
	}
	if res.Status != ChargeSucceeded && res.Status != ChargePending {
		t.Errorf("Refund(...).Status = %q; want %q or %q", res.Status, ChargeSucceeded, ChargePending)
	}
	sent := rt.last(t)
	if sent.Method != http.MethodPost || sent.Path != "/v1/refunds" {
		t.Errorf("Refund sent %s %s; want POST /v1/refunds", sent.Method, sent.Path)
	}
	if sent.IdempotencyKey != req.IdempotencyKey {
		t.Errorf("Refund sent Idempotency-Key %q; want %q", sent.IdempotencyKey, req.IdempotencyKey)
	}
	wantStripeForm(t, sent, map[string]string{"payment_intent": "pi_123", "amount": "500", "metadata[payment_id]": "pay_02"})
}

func TestStripeChargeErrorOnStripeMock(t *testing.T) {
	// stripe-mock answers a key that is not a test key with 401
	// invalid_request_error: an error for the caller, not a decline.
	s := NewStripe("sk_live_not_a_test_key", "whsec_test", WithStripeURL(stripeMockURL(t)), WithStripeMaxRetries(0))
	req := ChargeRequest{PaymentID: "pay_03", Amount: 100, Currency: "eur", PaymentMethod: "pm_card_visa", IdempotencyKey: "charge-pay_03"}
	if res, err := s.Charge(context.Background(), req); err == nil {
		t.Fatalf("Charge(...) with a live key on stripe-mock = %+v, nil; want an error", res)
	}
}

// The outcomes stripe-mock cannot produce (it always answers the same fixture):
// Stripe's documented answers, served by a stand-in, through the real client.
func TestStripeChargeMapsStripeAnswers(t *testing.T) {
	const cardError = `{"error": {"type": "card_error", "code": "card_declined", "decline_code": "%s",
		"message": "Your card was declined.", "payment_intent": {"id": "pi_declined", "object": "payment_intent", "status": "requires_payment_method"}}}`
	paymentIntent := func(status, extra string) string {
		return `{"id": "pi_1", "object": "payment_intent", "status": "` + status + `"` + extra + `}`
	}
	card := `, "latest_charge": {"id": "ch_1", "object": "charge", "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}}}`
	tests := []struct {
		name    string
		code    int
		body    string
		want    ChargeResult
		wantErr bool
	}{
		{"succeeded", 200, paymentIntent("succeeded", card), ChargeResult{GatewayID: "pi_1", Status: ChargeSucceeded, CardBrand: "visa", CardLast4: "4242"}, false},
		{"processing", 200, paymentIntent("processing", ""), ChargeResult{GatewayID: "pi_1", Status: ChargePending}, false},
		{"requires_action", 200, paymentIntent("requires_action", ""), ChargeResult{GatewayID: "pi_1", Status: ChargePending}, false},
		{"requires_confirmation", 200, paymentIntent("requires_confirmation", ""), ChargeResult{GatewayID: "pi_1", Status: ChargePending}, false},
		{"requires_capture", 200, paymentIntent("requires_capture", ""), ChargeResult{GatewayID: "pi_1", Status: ChargePending}, false},
		{"requires_payment_method", 200, paymentIntent("requires_payment_method", ""), ChargeResult{GatewayID: "pi_1", Status: ChargePending}, false},
		{"requires_payment_method after a card error", 200,
			paymentIntent("requires_payment_method", `, "last_payment_error": {"type": "card_error", "code": "expired_card"}`),
			ChargeResult{GatewayID: "pi_1", Status: ChargeDeclined, DeclineCode: "expired_card"}, false},
		{"declined", 402, fmt.Sprintf(cardError, "insufficient_funds"), ChargeResult{GatewayID: "pi_declined", Status: ChargeDeclined, DeclineCode: "insufficient_funds"}, false},
		{"declined without decline_code", 402, fmt.Sprintf(cardError, ""), ChargeResult{GatewayID: "pi_declined", Status: ChargeDeclined, DeclineCode: "card_declined"}, false},
		{"invalid request", 400, `{"error": {"type": "invalid_request_error", "message": "No such PaymentMethod: 'pm_x'"}}`, ChargeResult{}, true},
		{"authentication", 401, `{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}`, ChargeResult{}, true},
		{"unexpected status", 200, paymentIntent("canceled", ""), ChargeResult{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			s, _ := mustStripe(t, srv.URL)
			got, err := s.Charge(context.Background(), ChargeRequest{PaymentID: "pay_1", Amount: 100, Currency: "eur", PaymentMethod: "pm_card_visa", IdempotencyKey: "k"})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Charge(...) = %+v, nil; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Charge(...) error: %v", err)
			}
			if got != tt.want {
				t.Errorf("Charge(...) = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestSignWebhook(t *testing.T) {
	// Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
	got := SignWebhook("whsec_test", []byte("{}"), time.Unix(1700000000, 0))
	want := "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
	if got != want {
		t.Errorf("SignWebhook(...) = %q; want %q", got, want)
	}
}

const stripeTestEvent = `{
  "id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "created": 1767268800,
  "data": {"object": {"id": "pi_1", "object": "payment_intent", "status": "succeeded",
    "latest_charge": "ch_1", "metadata": {"payment_id": "pay_01"}}}
}`

func TestStripeParseWebhookVerifies(t *testing.T) {
	const secret = "whsec_test"
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	payload := []byte(stripeTestEvent)
	good := SignWebhook(secret, payload, now)
	goodSig := strings.TrimPrefix(good, fmt.Sprintf("t=%d,", now.Unix()))
	tests := []struct {
		name    string
		header  string // the Stripe-Signature header; "-" for none
		payload []byte
		wantErr error
	}{
		{"signed now", good, payload, nil},
		{"signed 300 s ago", SignWebhook(secret, payload, now.Add(-WebhookTolerance)), payload, nil},
		{"signed 300 s ahead", SignWebhook(secret, payload, now.Add(WebhookTolerance)), payload, nil},
		{"rolled secret: second v1 matches", fmt.Sprintf("t=%d,v1=%s,%s", now.Unix(), strings.Repeat("ab", 32), goodSig), payload, nil},
		{"v0 and unknown parts ignored", good + ",v0=deadbeef,x=y", payload, nil},
		{"forged: other secret", SignWebhook("whsec_other", payload, now), payload, ErrBadSignature},
		{"forged: payload changed", good, []byte(strings.Replace(stripeTestEvent, "pay_01", "pay_02", 1)), ErrBadSignature},
		{"forged: timestamp changed", fmt.Sprintf("t=%d,%s", now.Unix()-1, goodSig), payload, ErrBadSignature},
		{"forged: v1 not hex", fmt.Sprintf("t=%d,v1=zz", now.Unix()), payload, ErrMalformedHook},
		{"stale: 301 s old", SignWebhook(secret, payload, now.Add(-301*time.Second)), payload, ErrStaleWebhook},
		{"future: 301 s ahead", SignWebhook(secret, payload, now.Add(301*time.Second)), payload, ErrStaleWebhook},
		{"malformed: no header", "-", payload, ErrMalformedHook},
		{"malformed: garbage", "garbage", payload, ErrMalformedHook},
		{"malformed: no timestamp", goodSig, payload, ErrMalformedHook},
		{"malformed: timestamp not a number", "t=noon," + goodSig, payload, ErrMalformedHook},
		{"malformed: no v1", fmt.Sprintf("t=%d", now.Unix()), payload, ErrMalformedHook},
		{"malformed: signed body not JSON", SignWebhook(secret, []byte("not json"), now), []byte("not json"), ErrMalformedHook},
		{"malformed: signed body not an event", SignWebhook(secret, []byte(`{"a":1}`), now), []byte(`{"a":1}`), ErrMalformedHook},
	}
	s := NewStripe("sk_test_123", secret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "-" {
				h.Set("Stripe-Signature", tt.header)
			}
			_, err := s.ParseWebhook(tt.payload, h, now)
			if tt.wantErr == nil && err != nil {
				t.Errorf("ParseWebhook(%s) error: %v; want none", tt.name, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseWebhook(%s) error = %v; want %v", tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestStripeParseWebhookMapsEvents(t *testing.T) {
	const secret = "whsec_test"
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	created := time.Unix(1767268800, 0).UTC()
	event := func(typ, object string) string {
		return `{"id": "evt_1", "object": "event", "api_version": "2020-08-27", "type": "` + typ + `", "created": 1767268800, "data": {"object": ` + object + `}}`
	}
	tests := []struct {
		name    string
		payload string
		want    WebhookEvent
	}{
		{"payment_intent.succeeded", stripeTestEvent,
			WebhookEvent{ID: "evt_1", Type: EventChargeSucceeded, GatewayID: "pi_1", PaymentID: "pay_01", Created: created}},
		{"payment_intent.succeeded with expanded charge",
			event("payment_intent.succeeded", `{"id": "pi_2", "object": "payment_intent", "status": "succeeded", "metadata": {"payment_id": "pay_02"},
				"latest_charge": {"id": "ch_2", "object": "charge", "payment_method_details": {"type": "card", "card": {"brand": "mastercard", "last4": "4444"}}}}`),
			WebhookEvent{ID: "evt_1", Type: EventChargeSucceeded, GatewayID: "pi_2", PaymentID: "pay_02", CardBrand: "mastercard", CardLast4: "4444", Created: created}},
		{"payment_intent.payment_failed with decline_code",
			event("payment_intent.payment_failed", `{"id": "pi_3", "object": "payment_intent", "status": "requires_payment_method", "metadata": {"payment_id": "pay_03"},
				"last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"}}`),
			WebhookEvent{ID: "evt_1", Type: EventChargeFailed, GatewayID: "pi_3", PaymentID: "pay_03", DeclineCode: "insufficient_funds", Created: created}},
		{"payment_intent.payment_failed with code only",
			event("payment_intent.payment_failed", `{"id": "pi_4", "object": "payment_intent", "status": "requires_payment_method", "metadata": {"payment_id": "pay_04"},
				"last_payment_error": {"type": "card_error", "code": "expired_card"}}`),
			WebhookEvent{ID: "evt_1", Type: EventChargeFailed, GatewayID: "pi_4", PaymentID: "pay_04", DeclineCode: "expired_card", Created: created}},
		{"refund.updated succeeded",
			event("refund.updated", `{"id": "re_1", "object": "refund", "status": "succeeded", "payment_intent": "pi_1", "metadata": {"payment_id": "pay_05"}}`),
			WebhookEvent{ID: "evt_1", Type: EventRefundSucceeded, GatewayID: "re_1", PaymentID: "pay_05", Created: created}},
		{"refund.updated still pending",
			event("refund.updated", `{"id": "re_1", "object": "refund", "status": "pending", "payment_intent": "pi_1", "metadata": {"payment_id": "pay_05"}}`),
			WebhookEvent{ID: "evt_1", Created: created}},
		{"charge.refunded naming its refund",
			event("charge.refunded", `{"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "refunded": true, "metadata": {"payment_id": "pay_01"},
				"refunds": {"object": "list", "data": [{"id": "re_2", "object": "refund", "status": "succeeded", "metadata": {"payment_id": "pay_06"}}]}}`),
			WebhookEvent{ID: "evt_1", Type: EventRefundSucceeded, GatewayID: "re_2", PaymentID: "pay_06", Created: created}},
		{"charge.refunded without its refunds",
			event("charge.refunded", `{"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "refunded": true, "metadata": {"payment_id": "pay_01"}}`),
			WebhookEvent{ID: "evt_1", Created: created}},
		{"other event ignored",
			event("customer.created", `{"id": "cus_1", "object": "customer"}`),
			WebhookEvent{ID: "evt_1", Created: created}},
	}
	s := NewStripe("sk_test_123", secret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Stripe-Signature": {SignWebhook(secret, []byte(tt.payload), now.Add(-10*time.Second))}}
			got, err := s.ParseWebhook([]byte(tt.payload), h, now)
			if err != nil {
				t.Fatalf("ParseWebhook(%s) error: %v", tt.name, err)
			}
			if got != tt.want {
				t.Errorf("ParseWebhook(%s) = %+v; want %+v", tt.name, got, tt.want)
			}
		})
	}
}
