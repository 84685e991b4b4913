package teststore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestDigest: a digest changes with a table's rows, names the table, and
// leaves the bookkeeping tables out.
func TestDigest(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		dsn := b.DSN(t)
		s := b.OpenDSN(t, dsn)
		storetest.MustFixture(t, s)
		c := teststore.OpenContents(t, b, dsn)
		digest := func() teststore.Digest {
			t.Helper()
			d, err := c.Digest(ctx)
			if err != nil {
				t.Fatalf("Digest: %v", err)
			}
			return d
		}
		before := digest()
		if before["spots"].Rows != 10 || before["lots"].Rows != 1 || before["spots"].Sum == "" {
			t.Fatalf("Digest = %+v; want 10 spots and 1 lot", before)
		}
		if again := digest(); len(before.Diff(again)) != 0 {
			t.Fatalf("two digests of the same rows differ: %v", before.Diff(again))
		}
		if _, ok := before["idempotency_keys"]; ok {
			t.Errorf("Digest holds idempotency_keys; want it left out")
		}
		now := storetest.T0
		if _, _, err := s.ClaimIdempotencyKey(ctx, parking.IdempotencyKey{UserID: "u", Key: "k", RequestHash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if diff := before.Diff(digest()); len(diff) != 0 {
			t.Errorf("an idempotency key changed the digest: %v", diff)
		}
		op := parking.Operator{ID: parking.NewID("opr"), Name: "Other", CreatedAt: now}
		if err := s.CreateOperator(ctx, &op); err != nil {
			t.Fatal(err)
		}
		diff := before.Diff(digest())
		if len(diff) != 1 || !strings.HasPrefix(diff[0], "operators ") {
			t.Errorf("Diff after a new operator = %v; want operators alone", diff)
		}
		// A change of a value, not of the count, shows too.
		f := storetest.MustFixture(t, s)
		mid := digest()
		f.Level.Name = "Renamed"
		if err := s.UpdateLevel(ctx, &f.Level); err != nil {
			t.Fatal(err)
		}
		if diff := mid.Diff(digest()); len(diff) != 1 || !strings.HasPrefix(diff[0], "levels ") {
			t.Errorf("Diff after a renamed level = %v; want levels alone", diff)
		}
	})
}
