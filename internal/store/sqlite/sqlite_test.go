package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"parkd/internal/parking"
	"parkd/internal/store/sqlite"
	"parkd/internal/store/storetest"
)

func openTest(t *testing.T) parking.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "parkd.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, openTest) }

func TestConcurrency(t *testing.T) { storetest.RunConcurrency(t, openTest) }

func TestMigrationsTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parkd.db")
	for range 2 {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		s.Close()
	}
}
