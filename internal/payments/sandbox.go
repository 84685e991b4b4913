package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"parkd/internal/parking"
)

// The sandbox's test payment methods: Stripe's documented ones, so clients and
// tests work the same against either gateway, and two of parkd's own that settle
// asynchronously (pending now, a signed webhook later).
const (
	CardVisa              = "pm_card_visa"
	CardMastercard        = "pm_card_mastercard"
	CardDeclined          = "pm_card_chargeDeclined"
	CardInsufficientFunds = "pm_card_visa_chargeDeclinedInsufficientFunds"
	CardAsyncSuccess      = "pm_card_parkd_async_success"
	CardAsyncDecline      = "pm_card_parkd_async_decline"
)

type sandboxCard struct {
	brand, last4 string
	status       ChargeStatus // the immediate answer
	later        ChargeStatus // for pending ones: what the webhook says
	decline      string
}

var sandboxCards = map[string]sandboxCard{
	CardVisa:              {"visa", "4242", ChargeSucceeded, "", ""},
	CardMastercard:        {"mastercard", "4444", ChargeSucceeded, "", ""},
	CardDeclined:          {"visa", "0002", ChargeDeclined, "", "card_declined"},
	CardInsufficientFunds: {"visa", "9995", ChargeDeclined, "", "insufficient_funds"},
	CardAsyncSuccess:      {"visa", "3184", ChargePending, ChargeSucceeded, ""},
	CardAsyncDecline:      {"visa", "3220", ChargePending, ChargeDeclined, "card_declined"},
}

// ErrUnknownPaymentMethod is a payment method the gateway never issued. Its
// message never repeats the method, which could be anything a client sent.
var ErrUnknownPaymentMethod = parking.Errorf(parking.EPAYMENTMETHOD, "unknown payment method: use a token the card form returned (in the sandbox: pm_card_visa, pm_card_chargeDeclined, ...)")

// Sandbox is a card processor that runs inside parkd, for development, demos and
// tests. It answers like a real one: idempotent charges and refunds, declines,
// and asynchronous charges settled by webhooks signed like Stripe's, delivered
// over HTTP to parkd's own webhook endpoint.
type Sandbox struct {
	secret string
	clock  parking.Clock
	client *http.Client

	mu         sync.Mutex
	webhookURL string
	charges    map[string]ChargeResult   // by idempotency key
	ledger     map[string]*GatewayCharge // by gateway id
	refunds    map[string]RefundResult   // by idempotency key
	outbox     []sandboxDelivery         // webhooks not yet delivered
	seq        int
}

type sandboxDelivery struct {
	payload []byte
	due     time.Time
}

// SandboxDelay is how long after an asynchronous charge its webhook is due.
const SandboxDelay = 2 * time.Second

// NewSandbox returns a sandbox gateway signing its webhooks with secret.
func NewSandbox(secret string, clock parking.Clock) *Sandbox {
	return &Sandbox{secret: secret, clock: clock, client: &http.Client{Timeout: 10 * time.Second},
		charges: map[string]ChargeResult{}, refunds: map[string]RefundResult{}, ledger: map[string]*GatewayCharge{}}
}

// SetWebhookURL tells the sandbox where parkd's webhook endpoint listens.
func (s *Sandbox) SetWebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = url
}

// Name is "sandbox".
func (s *Sandbox) Name() string { return "sandbox" }

func (s *Sandbox) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_sandbox_%d_%s", prefix, s.seq, parking.NewID("x")[2:])
}

// CheckPaymentMethod implements Gateway: the sandbox knows its test cards only.
func (s *Sandbox) CheckPaymentMethod(method string) error {
	if _, ok := sandboxCards[method]; !ok {
		return ErrUnknownPaymentMethod
	}
	return nil
}

// Charge answers by the payment method's card; the same key gets the same answer.
func (s *Sandbox) Charge(ctx context.Context, c ChargeRequest) (ChargeResult, error) {
	card, ok := sandboxCards[c.PaymentMethod]
	if !ok {
		return ChargeResult{}, ErrUnknownPaymentMethod
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if res, ok := s.charges[c.IdempotencyKey]; ok {
		return res, nil
	}
	res := ChargeResult{GatewayID: s.nextID("pi"), Status: card.status, DeclineCode: card.decline, CardBrand: card.brand, CardLast4: card.last4}
	if card.status == ChargePending {
		res.DeclineCode = ""
		typ := "payment_intent.succeeded"
		if card.later == ChargeDeclined {
			typ = "payment_intent.payment_failed"
		}
		s.queue(typ, res.GatewayID, c.PaymentID, card.decline, SandboxDelay)
	}
	if c.IdempotencyKey != "" {
		s.charges[c.IdempotencyKey] = res
	}
	// The processor decides at once; an asynchronous charge only tells later.
	decided := res.Status
	if decided == ChargePending {
		decided = card.later
	}
	s.ledger[res.GatewayID] = &GatewayCharge{GatewayID: res.GatewayID, PaymentID: c.PaymentID, Amount: c.Amount,
		Currency: c.Currency, Status: decided, Created: s.clock.Now()}
	return res, nil
}

// Refund always succeeds; the same key gets the same answer.
func (s *Sandbox) Refund(ctx context.Context, r RefundRequest) (RefundResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if res, ok := s.refunds[r.IdempotencyKey]; ok {
		return res, nil
	}
	res := RefundResult{GatewayID: s.nextID("re"), Status: ChargeSucceeded}
	if c, ok := s.ledger[r.ChargeID]; ok {
		c.Refunded += r.Amount
	}
	if r.IdempotencyKey != "" {
		s.refunds[r.IdempotencyKey] = res
	}
	return res, nil
}

// queue schedules a webhook; s.mu is held.
func (s *Sandbox) queue(typ, gatewayID, paymentID, decline string, after time.Duration) {
	var e sandboxEvent
	e.ID, e.Type, e.Created = s.nextID("evt"), typ, s.clock.Now().Unix()
	e.Data.Object.ID, e.Data.Object.Object = gatewayID, "payment_intent"
	e.Data.Object.Metadata = map[string]string{"payment_id": paymentID}
	e.Data.Object.Status = "succeeded"
	if decline != "" {
		e.Data.Object.Status = "requires_payment_method"
		e.Data.Object.LastPaymentError = &struct {
			Code        string `json:"code"`
			DeclineCode string `json:"decline_code"`
			Type        string `json:"type"`
		}{"card_declined", decline, "card_error"}
	}
	payload, _ := json.Marshal(e)
	s.outbox = append(s.outbox, sandboxDelivery{payload: payload, due: s.clock.Now().Add(after)})
}

// Deliver sends every webhook that is due by now, and returns how many it
// delivered. A webhook the endpoint does not accept stays queued for the next
// call, as a real gateway retries.
func (s *Sandbox) Deliver(ctx context.Context) (int, error) {
	s.mu.Lock()
	now, url := s.clock.Now(), s.webhookURL
	var due, later []sandboxDelivery
	for _, d := range s.outbox {
		if !d.due.After(now) {
			due = append(due, d)
		} else {
			later = append(later, d)
		}
	}
	s.outbox = later
	s.mu.Unlock()
	if url == "" {
		s.requeue(due)
		return 0, fmt.Errorf("sandbox: no webhook URL set")
	}
	sent := 0
	var failed []sandboxDelivery
	var firstErr error
	for _, d := range due {
		if err := s.post(ctx, url, d.payload); err != nil {
			failed = append(failed, d)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		sent++
	}
	s.requeue(failed)
	return sent, firstErr
}

func (s *Sandbox) requeue(ds []sandboxDelivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = append(ds, s.outbox...)
}

func (s *Sandbox) post(ctx context.Context, url string, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, SignWebhook(s.secret, payload, s.clock.Now()))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("sandbox: webhook answered %s", resp.Status)
	}
	return nil
}

// ParseWebhook verifies the signature and reads the event.
func (s *Sandbox) ParseWebhook(payload []byte, header http.Header, now time.Time) (WebhookEvent, error) {
	if err := VerifyWebhook(s.secret, payload, header.Get(SignatureHeader), now); err != nil {
		return WebhookEvent{}, err
	}
	return parseStripeEvent(payload)
}

// Charges lists the charges made since a time. The sandbox's ledger lives in
// this process's memory: another process (a command-line reconcile) sees none.
func (s *Sandbox) Charges(ctx context.Context, since time.Time) ([]GatewayCharge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []GatewayCharge{}
	for _, c := range s.ledger {
		if !c.Created.Before(since) {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Created.Before(out[j].Created) || out[i].Created.Equal(out[j].Created) && out[i].GatewayID < out[j].GatewayID
	})
	return out, nil
}

// sandboxEvent is a webhook in Stripe's event format, as the sandbox sends it.
type sandboxEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object struct {
			ID               string            `json:"id"`
			Object           string            `json:"object"`
			Status           string            `json:"status"`
			Metadata         map[string]string `json:"metadata"`
			LastPaymentError *struct {
				Code        string `json:"code"`
				DeclineCode string `json:"decline_code"`
				Type        string `json:"type"`
			} `json:"last_payment_error"`
		} `json:"object"`
	} `json:"data"`
}
