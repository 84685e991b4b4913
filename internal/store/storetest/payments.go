package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
)

func paymentTests() []namedTest {
	return []namedTest{
		{"PaymentsCRUD", testPaymentsCRUD},
		{"OneLiveChargePerReservation", testOneLiveCharge},
		{"UpdatePaymentForwardOnly", testUpdatePaymentForwardOnly},
		{"UpdatePaymentDuplicateEvent", testUpdatePaymentDuplicateEvent},
		{"UpdatePaymentMissingForgetsEvent", testUpdatePaymentMissingForgetsEvent},
		{"UpdatePaymentConfirmsLapsedHold", testConfirmLapsedHold},
		{"UpdatePaymentSpotTaken", testConfirmSpotTaken},
		{"UpdatePaymentOverLapsedRival", testConfirmOverLapsedRival},
		{"SavedPaymentMethods", testSavedPaymentMethods},
		{"ClaimPendingRefunds", testClaimPendingRefunds},
		{"OverstayChargeBesideBooking", testOverstayCharge},
	}
}

// NewCharge returns a pending charge for r.
func NewCharge(r parking.Reservation, at time.Time) *parking.Payment {
	return &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, UserID: r.UserID, Kind: parking.Charge,
		Amount: r.Amount, Currency: r.Currency, Status: parking.PaymentPending, Gateway: "sandbox",
		PaymentMethod: "pm_card_visa", Purpose: parking.PurposeBooking, CreatedAt: at, UpdatedAt: at}
}

func heldFor(t *testing.T, s parking.Store, f Fixture, u parking.User, spot int) parking.Reservation {
	t.Helper()
	r := f.NewHold(T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	r.UserID = u.ID
	if err := s.Hold(ctx, r, []string{f.Spots[spot].ID}, nil); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	return *r
}

// mustCharge creates a pending booking charge for r, made at T0.
func mustCharge(t *testing.T, s parking.Store, r parking.Reservation) *parking.Payment {
	t.Helper()
	p := NewCharge(r, T0)
	if err := s.CreatePayment(ctx, p); err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	return p
}

// mustPendingCharge is where most payment tests start: a fixture lot, a
// driver, her hold of spot 5 and a pending charge for it.
func mustPendingCharge(t *testing.T, s parking.Store) (Fixture, parking.User, parking.Reservation, *parking.Payment) {
	t.Helper()
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	r := heldFor(t, s, f, u, 5)
	return f, u, r, mustCharge(t, s, r)
}

// newRefund returns a pending refund of amount against the charge of.
func newRefund(of *parking.Payment, amount int64) *parking.Payment {
	return &parking.Payment{ID: parking.NewID("pay"), ReservationID: of.ReservationID, UserID: of.UserID, Kind: parking.Refund,
		Amount: amount, Currency: of.Currency, Status: parking.PaymentPending, Gateway: "sandbox", RefundOf: of.ID,
		CreatedAt: T0, UpdatedAt: T0}
}

// succeedAt reports the gateway's success for p at at, asking to confirm its reservation.
func succeedAt(s parking.Store, p *parking.Payment, at time.Time) (parking.Payment, parking.Reservation, error) {
	return s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, Confirm: true, At: at})
}

func testPaymentsCRUD(t *testing.T, s parking.Store) {
	_, u, r, p := mustPendingCharge(t, s)
	got, err := s.Payment(ctx, p.ID)
	if err != nil || got != *p {
		t.Errorf("Payment() = %+v, %v; want %+v", got, err, *p)
	}
	if _, err := s.Payment(ctx, "pay_missing"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Payment(missing) = %v; want ErrNotFound", err)
	}
	upd, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending},
		To: parking.PaymentFailed, GatewayID: "gw_1", FailureCode: "card_declined", At: T0.Add(time.Second)})
	if err != nil || upd.Status != parking.PaymentFailed || upd.GatewayID != "gw_1" || upd.FailureCode != "card_declined" {
		t.Fatalf("UpdatePayment(failed) = %+v, %v", upd, err)
	}
	if got, err := s.PaymentByGatewayID(ctx, "gw_1"); err != nil || got.ID != p.ID {
		t.Errorf("PaymentByGatewayID = %+v, %v; want %s", got, err, p.ID)
	}
	second := NewCharge(r, T0.Add(2*time.Second))
	if err := s.CreatePayment(ctx, second); err != nil {
		t.Fatalf("a new charge after a failed one = %v; want nil", err)
	}
	ps, err := s.ReservationPayments(ctx, r.ID)
	if err != nil || len(ps) != 2 || ps[0].ID != p.ID || ps[1].ID != second.ID {
		t.Errorf("ReservationPayments = %+v, %v; want both, oldest first", ps, err)
	}
	if ps, _ := s.UserPayments(ctx, u.ID); len(ps) != 2 || ps[0].ID != second.ID {
		t.Errorf("UserPayments = %+v; want both, newest first", ps)
	}
	refund := newRefund(second, 100)
	if err := s.CreatePayment(ctx, refund); err != nil {
		t.Errorf("CreatePayment(refund) = %v", err)
	}
	if got, _ := s.Payment(ctx, refund.ID); got.RefundOf != second.ID || got.Kind != parking.Refund {
		t.Errorf("refund = %+v", got)
	}
}

func testOneLiveCharge(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	r := heldFor(t, s, f, u, 5)
	errs := race(12, func(int) error { return s.CreatePayment(ctx, NewCharge(r, T0)) })
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case parking.ErrorCode(err) != parking.ECONFLICT:
			t.Fatalf("CreatePayment racing = %v; want nil or conflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of 12 racing charges were created; want exactly 1", won)
	}
}

func testUpdatePaymentForwardOnly(t *testing.T, s parking.Store) {
	f, _, r, p := mustPendingCharge(t, s)
	pay, res, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, GatewayID: "gw_ok", CardBrand: "visa", CardLast4: "4242", Confirm: true, At: T0.Add(time.Minute)})
	if err != nil || pay.Status != parking.PaymentSucceeded || res.Status != parking.StatusConfirmed || pay.CardLast4 != "4242" {
		t.Fatalf("UpdatePayment(succeeded) = %+v, %+v, %v; want succeeded and confirmed", pay, res, err)
	}
	// A late "failed" for a succeeded payment never moves it back.
	pay, _, err = s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending},
		To: parking.PaymentFailed, At: T0.Add(2 * time.Minute)})
	if !errors.Is(err, parking.ErrInvalidStatus) || pay.Status != parking.PaymentSucceeded {
		t.Errorf("UpdatePayment(failed) after success = %+v, %v; want succeeded, ErrInvalidStatus", pay, err)
	}
	if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: "pay_missing", From: []string{parking.PaymentPending},
		To: parking.PaymentFailed, At: T0}); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("UpdatePayment(missing) = %v; want ErrNotFound", err)
	}
	events, _ := s.Events(ctx, f.Lot.ID, 0, 100)
	if last := events[len(events)-1]; last.Type != "reservation.confirmed" || last.ReservationID != r.ID {
		t.Errorf("last event = %+v; want reservation.confirmed", last)
	}
}

func testUpdatePaymentDuplicateEvent(t *testing.T, s parking.Store) {
	f, u, _, p := mustPendingCharge(t, s)
	up := parking.PaymentUpdate{PaymentID: p.ID, EventID: "evt_1", From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, Confirm: true, At: T0.Add(time.Minute)}
	if _, _, err := s.UpdatePayment(ctx, up); err != nil {
		t.Fatalf("first event: %v", err)
	}
	if _, _, err := s.UpdatePayment(ctx, up); !errors.Is(err, parking.ErrDuplicateEvent) {
		t.Errorf("the same event again = %v; want ErrDuplicateEvent", err)
	}
	// A duplicate is recognised before anything else: also for a failed update.
	q := mustCharge(t, s, heldFor(t, s, f, u, 6))
	fail := parking.PaymentUpdate{PaymentID: q.ID, EventID: "evt_2", From: []string{parking.PaymentSucceeded}, To: parking.PaymentFailed, At: T0}
	if _, _, err := s.UpdatePayment(ctx, fail); !errors.Is(err, parking.ErrInvalidStatus) {
		t.Fatalf("event on a payment in the wrong status = %v; want ErrInvalidStatus", err)
	}
	if _, _, err := s.UpdatePayment(ctx, fail); !errors.Is(err, parking.ErrDuplicateEvent) {
		t.Errorf("that event again = %v; want ErrDuplicateEvent (it was recorded)", err)
	}
}

// testConfirmLapsedHold: a payment that succeeds after its hold lapsed still
// confirms the reservation while nobody else took the spot.
// testUpdatePaymentMissingForgetsEvent: an event for a payment that does not
// exist changes nothing, so it is not recorded either.
func testUpdatePaymentMissingForgetsEvent(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	_, p := mustChargeOn(t, s, f, f.Spots[5].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	succeed := parking.PaymentUpdate{PaymentID: p.ID, EventID: "evt_1", From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, Confirm: true, At: T0}
	missing := succeed
	missing.PaymentID = "pay_missing"
	if _, _, err := s.UpdatePayment(ctx, missing); !errors.Is(err, parking.ErrNotFound) {
		t.Fatalf("UpdatePayment(missing) = %v; want ErrNotFound", err)
	}
	if _, _, err := s.UpdatePayment(ctx, succeed); err != nil {
		t.Errorf("the same event for an existing payment = %v; want nil (not recorded before)", err)
	}
}

func testConfirmLapsedHold(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	for _, swept := range []bool{false, true} {
		r := heldFor(t, s, f, u, 5)
		p := mustCharge(t, s, r)
		late := r.HoldExpiresAt.Add(time.Minute)
		if swept {
			if n, err := s.ExpireHolds(ctx, late); err != nil || n != 1 {
				t.Fatalf("ExpireHolds = %d, %v", n, err)
			}
		}
		_, res, err := succeedAt(s, p, late)
		if err != nil || res.Status != parking.StatusConfirmed {
			t.Errorf("swept=%v: late success = %+v, %v; want confirmed", swept, res, err)
		}
		MustChange(t, s, r.ID, parking.StatusConfirmed, parking.StatusCancelled, late)
	}
}

// testConfirmSpotTaken: when the spot went to someone else, the payment is
// recorded as succeeded and the caller is told to refund.
func testConfirmSpotTaken(t *testing.T, s parking.Store) {
	f, _, r, p := mustPendingCharge(t, s)
	late := r.HoldExpiresAt.Add(time.Minute)
	other := f.NewHold(late, r.StartsAt, r.EndsAt) // expires r on the way in
	if err := s.Hold(ctx, other, []string{r.SpotID}, nil); err != nil {
		t.Fatalf("Hold over the lapsed hold: %v", err)
	}
	pay, res, err := succeedAt(s, p, late)
	if !errors.Is(err, parking.ErrSpotUnavailable) || pay.Status != parking.PaymentSucceeded || res.Status != parking.StatusExpired {
		t.Errorf("success after the spot was re-booked = %+v, %+v, %v; want payment succeeded, reservation expired, ErrSpotUnavailable", pay.Status, res.Status, err)
	}
	if got, _ := s.Payment(ctx, p.ID); got.Status != parking.PaymentSucceeded {
		t.Errorf("stored payment = %q; want succeeded (committed, to be refunded)", got.Status)
	}
	if got, _ := s.Reservation(ctx, other.ID); got.Status != parking.StatusHeld {
		t.Errorf("the other hold = %q; want untouched", got.Status)
	}
}

// testConfirmOverLapsedRival: a late payment confirms its reservation over a
// rival hold that has itself lapsed (not yet swept), as a new hold would.
func testConfirmOverLapsedRival(t *testing.T, s parking.Store) {
	f, _, r, p := mustPendingCharge(t, s)
	rivalAt := r.HoldExpiresAt.Add(time.Minute)
	rival := f.NewHold(rivalAt, r.StartsAt, r.EndsAt) // expires r on the way in
	if err := s.Hold(ctx, rival, []string{r.SpotID}, nil); err != nil {
		t.Fatalf("rival Hold: %v", err)
	}
	late := rival.HoldExpiresAt.Add(time.Minute) // the rival has lapsed too
	_, res, err := succeedAt(s, p, late)
	if err != nil || res.Status != parking.StatusConfirmed {
		t.Fatalf("late success over a lapsed rival = %q, %v; want confirmed", res.Status, err)
	}
	if got, _ := s.Reservation(ctx, rival.ID); got.Status != parking.StatusExpired {
		t.Errorf("the lapsed rival = %q; want expired", got.Status)
	}
	events, _ := s.Events(ctx, f.Lot.ID, 0, 100)
	for _, e := range events {
		if e.Type == "reservation.expired" && e.ReservationID == r.ID && e.At.Equal(late) {
			t.Errorf("the paid reservation was announced expired at its confirmation")
		}
	}
	var last []string
	for _, e := range events[max(len(events)-2, 0):] {
		last = append(last, e.Type+" "+e.ReservationID)
	}
	if want := []string{"reservation.expired " + rival.ID, "reservation.confirmed " + r.ID}; !reflect.DeepEqual(last, want) {
		t.Errorf("last events = %v; want %v", last, want)
	}
}

func testSavedPaymentMethods(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	if _, err := s.SavedPaymentMethod(ctx, u.ID); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("SavedPaymentMethod before any = %v; want ErrNotFound", err)
	}
	m := parking.SavedPaymentMethod{UserID: u.ID, PaymentMethod: "pm_card_visa", ConsentedAt: T0}
	if err := s.SavePaymentMethod(ctx, m); err != nil {
		t.Fatalf("SavePaymentMethod: %v", err)
	}
	m.PaymentMethod, m.ConsentedAt = "pm_card_mastercard", T0.Add(time.Hour)
	if err := s.SavePaymentMethod(ctx, m); err != nil {
		t.Fatalf("SavePaymentMethod again: %v", err)
	}
	if got, err := s.SavedPaymentMethod(ctx, u.ID); err != nil || got != m {
		t.Errorf("SavedPaymentMethod = %+v, %v; want %+v (replaced)", got, err, m)
	}
	if err := s.DeletePaymentMethod(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SavedPaymentMethod(ctx, u.ID); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("SavedPaymentMethod after delete = %v; want ErrNotFound", err)
	}
	if err := s.DeletePaymentMethod(ctx, u.ID); err != nil {
		t.Errorf("DeletePaymentMethod twice = %v; want nil", err)
	}
}

// testOverstayCharge: an overstay charge lives beside the booking's charge;
// two overstay charges do not.
func testOverstayCharge(t *testing.T, s parking.Store) {
	_, _, r, _ := mustPendingCharge(t, s) // the booking's charge
	over := NewCharge(r, T0)
	over.Purpose, over.Amount = parking.PurposeOverstay, 450
	if err := s.CreatePayment(ctx, over); err != nil {
		t.Fatalf("an overstay charge beside the booking's = %v; want nil", err)
	}
	if got, _ := s.Payment(ctx, over.ID); got.Purpose != parking.PurposeOverstay {
		t.Errorf("purpose = %q; want overstay", got.Purpose)
	}
	again := NewCharge(r, T0)
	again.Purpose = parking.PurposeOverstay
	if err := s.CreatePayment(ctx, again); parking.ErrorCode(err) != parking.ECONFLICT {
		t.Errorf("a second live overstay charge = %v; want conflict", err)
	}
}

// mustPendingRefunds makes n refunds pending since T0, each of its own
// reservation's succeeded charge, oldest first.
func mustPendingRefunds(t *testing.T, s parking.Store, n int) []*parking.Payment {
	t.Helper()
	f := MustFixture(t, s)
	u := MustUser(t, s, "refunds@example.com")
	var refunds []*parking.Payment
	for i := range n {
		start := T0.Add(time.Hour + time.Duration(i/len(f.Spots))*2*time.Hour)
		r := f.NewHold(T0, start, start.Add(time.Hour))
		r.UserID = u.ID
		if err := s.Hold(ctx, r, []string{f.Spots[i%len(f.Spots)].ID}, nil); err != nil {
			t.Fatalf("Hold #%d: %v", i, err)
		}
		charge := mustCharge(t, s, *r)
		if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: charge.ID, From: []string{parking.PaymentPending},
			To: parking.PaymentSucceeded, At: T0}); err != nil {
			t.Fatal(err)
		}
		refund := newRefund(charge, r.Amount)
		refund.CreatedAt = T0.Add(time.Duration(i) * time.Microsecond)
		refund.UpdatedAt = refund.CreatedAt
		if err := s.CreatePayment(ctx, refund); err != nil {
			t.Fatal(err)
		}
		refunds = append(refunds, refund)
	}
	return refunds
}

func paymentIDs(ps []parking.Payment) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// testClaimPendingRefunds: a claim leases the pending refunds made before the
// cutoff, oldest first; a leased refund is not claimed again until it is
// released or its lease lapses (the injected time passes it); a settled one
// never.
func testClaimPendingRefunds(t *testing.T, s parking.Store) {
	refunds := mustPendingRefunds(t, s, 3)
	a, b, c := refunds[0].ID, refunds[1].ID, refunds[2].ID
	now := T0.Add(2 * time.Minute)
	const lease = 5 * time.Minute
	claim := func(claimer string, createdBefore, now time.Time, limit int) []string {
		t.Helper()
		got, err := s.ClaimPendingRefunds(ctx, claimer, createdBefore, now, lease, limit)
		if err != nil {
			t.Fatalf("ClaimPendingRefunds(%s) = %v", claimer, err)
		}
		for _, p := range got {
			if p.Kind != parking.Refund || p.Status != parking.PaymentPending {
				t.Errorf("claimed %+v; want a pending refund", p)
			}
		}
		return paymentIDs(got)
	}
	if got := claim("clm_a", T0, now, 10); len(got) != 0 {
		t.Errorf("claim of refunds made before T0 = %v; want none", got)
	}
	if got := claim("clm_a", T0.Add(time.Minute), now, 2); !reflect.DeepEqual(got, []string{a, b}) {
		t.Errorf("first claim = %v; want the two oldest %v", got, []string{a, b})
	}
	if got := claim("clm_b", T0.Add(time.Minute), now, 10); !reflect.DeepEqual(got, []string{c}) {
		t.Errorf("second claim = %v; want only the one not leased, %s", got, c)
	}
	if got := claim("clm_c", T0.Add(time.Minute), now.Add(lease-time.Microsecond), 10); len(got) != 0 {
		t.Errorf("claim just before the leases lapse = %v; want none", got)
	}
	// A release by another claimer does nothing; by the holder, frees it.
	if err := s.ReleaseRefundClaim(ctx, a, "clm_b"); err != nil {
		t.Fatal(err)
	}
	if got := claim("clm_c", T0.Add(time.Minute), now, 10); len(got) != 0 {
		t.Errorf("claim after another's release = %v; want none", got)
	}
	if err := s.ReleaseRefundClaim(ctx, a, "clm_a"); err != nil {
		t.Fatal(err)
	}
	if got := claim("clm_c", T0.Add(time.Minute), now.Add(time.Minute), 10); !reflect.DeepEqual(got, []string{a}) {
		t.Errorf("claim after the holder's release = %v; want %s", got, a)
	}
	// b settles; once the leases lapse, c (and a, claimed later) are free.
	if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: b, From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, At: now}); err != nil {
		t.Fatal(err)
	}
	if got := claim("clm_d", T0.Add(time.Minute), now.Add(lease), 10); !reflect.DeepEqual(got, []string{c}) {
		t.Errorf("claim when the first leases lapse = %v; want %s (b settled, a leased later)", got, c)
	}
	if got := claim("clm_e", T0.Add(time.Minute), now.Add(3*lease), 10); !reflect.DeepEqual(got, []string{a, c}) {
		t.Errorf("claim when every lease lapsed = %v; want %v", got, []string{a, c})
	}
}

// testClaimRefundsRace: claimers racing on one database, each with its own
// store where the backend allows (several instances), claim every pending
// refund exactly once.
func testClaimRefundsRace(t *testing.T, stores []parking.Store) {
	const total, workers = 40, 8
	mustPendingRefunds(t, stores[0], total)
	var mu sync.Mutex
	claimedBy := map[string]int{}
	errs := race(workers, func(w int) error {
		s := stores[w%len(stores)]
		claimer := fmt.Sprintf("clm_%d", w)
		for {
			c, err := s.ClaimPendingRefunds(ctx, claimer, T0.Add(time.Minute), T0.Add(2*time.Minute), time.Hour, 3)
			if err != nil || len(c) == 0 {
				return err
			}
			mu.Lock()
			for _, p := range c {
				claimedBy[p.ID]++
			}
			mu.Unlock()
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("ClaimPendingRefunds: %v", err)
		}
	}
	if len(claimedBy) != total {
		t.Errorf("%d refunds claimed; want %d", len(claimedBy), total)
	}
	for id, n := range claimedBy {
		if n != 1 {
			t.Errorf("%s claimed %d times; want once", id, n)
		}
	}
}
