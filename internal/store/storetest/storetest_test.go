package storetest_test

import (
	"testing"

	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// The suites run here, once per backend teststore reaches, so that no backend
// package holds a copy of a backend-neutral test. The backends run side by
// side, as their packages did.

func TestConformance(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		t.Parallel()
		storetest.Run(t, opener(b))
	})
}

func TestConcurrency(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		t.Parallel()
		storetest.RunConcurrency(t, opener(b))
	})
}

// TestInstances runs the races of several parkd instances sharing one
// database, each store with its own pool (on SQLite, its own writer: BEGIN
// IMMEDIATE orders them).
func TestInstances(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		t.Parallel()
		storetest.RunInstances(t, func(t *testing.T, n int) []parking.Store {
			dsn := b.DSN(t)
			stores := make([]parking.Store, n)
			for i := range stores {
				stores[i] = b.OpenDSN(t, dsn)
			}
			return stores
		})
	})
}

func opener(b teststore.Backend) storetest.Opener {
	return func(t *testing.T) parking.Store { return b.Open(t) }
}

// BenchmarkHold measures uncontended holds on each backend.
func BenchmarkHold(b *testing.B) {
	for _, be := range teststore.Backends(b) {
		b.Run(be.Name, func(b *testing.B) { storetest.BenchHold(b, be.Open(b)) })
	}
}
