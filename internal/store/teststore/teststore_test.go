package teststore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// recorder is a test whose failures and cleanups are kept, so that a test can
// see what a cleanup would have reported.
type recorder struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}
func (r *recorder) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// TestCardNumberScan: the scan every test's database gets when the test ends
// finds a card number planted in it, fails the test, and never prints the
// number; a database without one passes.
func TestCardNumberScan(t *testing.T) {
	const card = "4242 4242 4242 4242"
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		for _, plant := range []bool{true, false} {
			rec := &recorder{TB: t}
			dsn := b.DSN(rec)
			s := b.OpenDSN(rec, dsn)
			u := parking.User{ID: parking.NewID("usr"), Name: "Ada", Email: parking.NewID("a") + "@example.com",
				PasswordHash: "x", Role: parking.RoleDriver, CreatedAt: storetest.T0}
			if err := s.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			method := "pm_card_visa"
			if plant {
				method = "pm_" + card // as a careless client might send it, straight to the store
			}
			if err := s.SavePaymentMethod(ctx, parking.SavedPaymentMethod{UserID: u.ID, PaymentMethod: method, ConsentedAt: storetest.T0}); err != nil {
				t.Fatal(err)
			}
			found, err := teststore.CardNumbers(ctx, b, dsn)
			if err != nil {
				t.Fatalf("CardNumbers = %v", err)
			}
			rec.finish()
			if !plant {
				if len(found) != 0 || len(rec.errors) != 0 {
					t.Errorf("a database without a card number: found %q, test failed with %q; want nothing", found, rec.errors)
				}
				continue
			}
			if len(found) != 1 || !strings.Contains(found[0], "saved_payment_methods.payment_method") {
				t.Errorf("CardNumbers = %q; want the saved payment method", found)
			}
			if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "card number") {
				t.Errorf("the test's cleanup reported %q; want one failure naming the card number", rec.errors)
			}
			for _, e := range append(found, rec.errors...) {
				if parking.FindCardNumber(e) != "" {
					t.Errorf("the report %q shows the card number", e)
				}
			}
		}
	})
}
