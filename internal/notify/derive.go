package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"parkd/internal/parking"
)

// WebhookEvent is the body of an operator webhook: one outbox event, or a
// drive-up ticket's time limit drawing near ("reservation.ending_soon").
type WebhookEvent struct {
	ID      string         `json:"id"` // the notification's id: the same on every retry
	Type    string         `json:"type"`
	Created time.Time      `json:"created"`
	Data    map[string]any `json:"data"`
}

// deriving turns one batch of events into notifications, reading each
// reservation, lot, user's settings and operator's webhook once.
type deriving struct {
	s            *Service
	now          time.Time
	reservations map[string]parking.Reservation
	lots         map[string]parking.Lot
	settings     map[string]parking.NotificationSettings
	webhooks     map[string]bool
}

func newDeriving(s *Service) *deriving {
	return &deriving{s: s, now: s.cfg.Clock.Now(), reservations: map[string]parking.Reservation{},
		lots: map[string]parking.Lot{}, settings: map[string]parking.NotificationSettings{}, webhooks: map[string]bool{}}
}

// userKinds says which notifications each event type sends its driver.
var userKinds = map[string]string{
	"reservation.confirmed":     KindConfirmed,
	"reservation.no_show":       KindNoShow,
	"reservation.completed":     KindReceipt,
	"overstay_charge.succeeded": KindOverstayCharged,
	"refund.succeeded":          KindRefund,
}

// event returns the notifications one event calls for.
func (d *deriving) event(ctx context.Context, e parking.Event) ([]parking.Notification, error) {
	var out []parking.Notification
	lot, err := cached(ctx, d.lots, e.LotID, d.s.cfg.Store.Lot)
	if errors.Is(err, parking.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	hooked, err := d.webhook(ctx, lot.OperatorID)
	if err != nil {
		return nil, err
	}
	if hooked {
		out = append(out, d.hook(e, lot, e.Type, "event:"+strconv.FormatInt(e.Seq, 10)+":webhook", e.At, map[string]any{
			"seq": e.Seq, "lot_id": e.LotID, "spot_id": e.SpotID, "reservation_id": e.ReservationID, "at": e.At}))
	}
	if e.ReservationID == "" {
		return out, nil
	}
	r, err := cached(ctx, d.reservations, e.ReservationID, d.s.cfg.Store.Reservation)
	if errors.Is(err, parking.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if e.Type == "reservation.cancelled" && r.ChangeReason != "" && hooked {
		// The lot, not the driver, cancelled: no spot fitted the booking.
		// The operator's systems hear of it apart from the plain event,
		// since someone may want to call the driver or free a spot.
		out = append(out, d.hook(e, lot, WebhookDisplaced, "displaced:"+r.ID+":webhook", e.At, map[string]any{
			"seq": e.Seq, "lot_id": r.LotID, "spot_id": r.SpotID, "reservation_id": r.ID, "reason": r.ChangeReason,
			"plate": r.Plate, "vehicle_size": r.VehicleSize.String(), "starts_at": r.StartsAt, "ends_at": r.EndsAt, "at": e.At}))
	}
	if r.UserID == "" {
		// A drive-up ticket has no account to tell: its time limit goes to
		// the operator's systems (a display at the exit, say).
		if e.Type == "reservation.checked_in" && hooked {
			if due := r.EndsAt.Add(-DriveUpWarning); due.After(e.At) {
				out = append(out, d.hook(e, lot, "reservation.ending_soon", "ending_soon:"+r.ID+":webhook", due, map[string]any{
					"lot_id": r.LotID, "spot_id": r.SpotID, "reservation_id": r.ID, "plate": r.Plate, "ends_at": r.EndsAt}))
			}
		}
		return out, nil
	}
	st, err := cached(ctx, d.settings, r.UserID, d.s.cfg.Store.NotificationSettings)
	if err != nil {
		return nil, err
	}
	paymentID := ""
	var payload []byte // what the notice is about, as it was when derived
	add := func(kind, key string, due time.Time, channels ...string) {
		for _, ch := range channels {
			if ch == parking.ChannelEmail && !st.Email || ch == parking.ChannelInApp && !st.InApp {
				continue
			}
			out = append(out, parking.Notification{
				ID: parking.NewID("ntf"), DedupeKey: key + ":" + ch, Channel: ch, Kind: kind, UserID: r.UserID,
				LotID: r.LotID, ReservationID: r.ID, PaymentID: paymentID, EventSeq: e.Seq, DueAt: due, Payload: payload, CreatedAt: d.now,
			})
		}
	}
	both := []string{parking.ChannelEmail, parking.ChannelInApp}

	switch e.Type {
	case "reservation.held":
		if due := r.HoldExpiresAt.Add(-HoldWarning); due.After(e.At) {
			add(KindHoldExpiring, KindHoldExpiring+":"+r.ID, due, parking.ChannelInApp)
		}
	case "reservation.confirmed":
		// A reminder that would be due before the booking was even made
		// (a booking for the next few minutes) would only repeat the
		// confirmation.
		if due := r.StartsAt.Add(-time.Duration(st.ReminderLead)); due.After(e.At) {
			add(KindReminder, KindReminder+":"+r.ID, due, both...)
		}
	case "reservation.checked_in", "reservation.extended":
		// One warning per end: an extension schedules one for the new end,
		// and the one for the old end finds, when due, that the stay ends
		// later now (its payload names the end it warns of).
		if e.Type == "reservation.extended" && !r.Inside() {
			break // not in yet: checking in schedules it, for the end then
		}
		if due := r.EndsAt.Add(-time.Duration(st.EndingLead)); due.After(e.At) {
			payload = payloadJSON(endingPayload{EndsAt: r.EndsAt})
			// The end as a time, not a count of microseconds: a 16-digit
			// number may pass the Luhn check and read as a card number.
			add(KindEndingSoon, KindEndingSoon+":"+r.ID+":"+r.EndsAt.UTC().Format(time.RFC3339Nano), due, both...)
		}
	case "reservation.moved":
		// The event names the spot it moved to; the row says where from and
		// why, as long as no later move has overwritten them (whose own
		// notice then tells the driver).
		if r.SpotID != e.SpotID || r.MovedFrom == "" {
			break
		}
		payload = payloadJSON(movePayload{From: r.MovedFrom, To: r.SpotID, Reason: r.ChangeReason})
		channels := both
		if r.ChangeReason == parking.ReasonArrival {
			// The driver is at the gate, which told them the new spot.
			channels = []string{parking.ChannelInApp}
		}
		add(KindMoved, KindMoved+":"+r.ID+":"+strconv.FormatInt(e.Seq, 10), e.At, channels...)
	case "reservation.cancelled":
		if r.ChangeReason != "" {
			add(KindLotCancelled, KindLotCancelled+":"+r.ID, e.At, both...)
		}
	case "payment.succeeded":
		// A booking's charge confirms it (the confirmation says so); an
		// extension's charge gets a notice of its own.
		p, err := d.paymentOf(ctx, e)
		if err != nil {
			return nil, err
		}
		if p.ExtendsTo != nil {
			paymentID = p.ID
			add(KindExtended, KindExtended+":"+p.ID, e.At, both...)
		}
	}
	if kind, ok := userKinds[e.Type]; ok {
		// A reservation reaches each status once, but may have several
		// refunds: money notifications are keyed by their payment.
		key := kind + ":" + r.ID
		if kind == KindOverstayCharged || kind == KindRefund {
			p, err := d.paymentOf(ctx, e)
			if err != nil {
				return nil, err
			}
			paymentID, key = p.ID, kind+":"+p.ID
			if p.ID == "" {
				key = kind + ":" + r.ID + ":" + strconv.FormatInt(e.Seq, 10)
			}
		}
		add(kind, key, e.At, both...)
	}
	return out, nil
}

// movePayload is what a "moved" notice is about: the move as derived, since a
// later move overwrites the reservation's MovedFrom and ChangeReason.
type movePayload struct {
	From   string `json:"from_spot_id"`
	To     string `json:"to_spot_id"`
	Reason string `json:"reason"`
}

// endingPayload is the end an "ending soon" warning warns of.
type endingPayload struct {
	EndsAt time.Time `json:"ends_at"`
}

// payloadJSON encodes a notice's payload: structs of plain fields always encode.
func payloadJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// hook returns a webhook notification for the lot's operator.
func (d *deriving) hook(e parking.Event, lot parking.Lot, typ, key string, due time.Time, data map[string]any) parking.Notification {
	n := parking.Notification{
		ID: parking.NewID("ntf"), DedupeKey: key, Channel: parking.ChannelWebhook, Kind: typ, OperatorID: lot.OperatorID,
		LotID: lot.ID, ReservationID: e.ReservationID, EventSeq: e.Seq, DueAt: due, CreatedAt: d.now,
	}
	n.Payload, _ = json.Marshal(WebhookEvent{ID: n.ID, Type: typ, Created: e.At, Data: data}) // maps of plain values always encode
	return n
}

// cached returns m[id], reading it with read and keeping it when m lacks it.
func cached[T any](ctx context.Context, m map[string]T, id string, read func(context.Context, string) (T, error)) (T, error) {
	if v, ok := m[id]; ok {
		return v, nil
	}
	v, err := read(ctx, id)
	if err == nil {
		m[id] = v
	}
	return v, err
}

func (d *deriving) webhook(ctx context.Context, operatorID string) (bool, error) {
	if ok, seen := d.webhooks[operatorID]; seen {
		return ok, nil
	}
	_, err := d.s.cfg.Store.OperatorWebhook(ctx, operatorID)
	if err != nil && !errors.Is(err, parking.ErrNotFound) {
		return false, err
	}
	d.webhooks[operatorID] = err == nil
	return err == nil, nil
}

// paymentOf finds the payment a payment event announces: of the event's type,
// succeeded at the event's time (the store writes both from one value), or
// else the latest such, or none.
func (d *deriving) paymentOf(ctx context.Context, e parking.Event) (parking.Payment, error) {
	ps, err := d.s.cfg.Store.ReservationPayments(ctx, e.ReservationID)
	if err != nil {
		return parking.Payment{}, err
	}
	var found parking.Payment
	for _, p := range ps {
		if p.Status != parking.PaymentSucceeded || parking.PaymentEventType(p) != e.Type {
			continue
		}
		if p.UpdatedAt.Equal(e.At) {
			return p, nil
		}
		found = p
	}
	return found, nil // none: the notification says what it can without it
}
