package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/payments"
)

// runPayments runs "parkd payments reconcile": it compares the gateway's charges
// with parkd's payments and prints what does not match, as JSON; it fails when
// anything does not, so that a scheduled run can alert.
func runPayments(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reconcile" {
		return fmt.Errorf("usage: parkd payments reconcile [--since 720h] [--db DB] [--payments sandbox|stripe]")
	}
	fs := flag.NewFlagSet("parkd payments reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	fs.StringVar(&cfg.db, "db", envOr(getenv, "PARKD_DB", "parkd.db"), "database: a SQLite file path, or a postgres:// URL (PARKD_DB)")
	fs.StringVar(&cfg.payments, "payments", envOr(getenv, "PARKD_PAYMENTS", "sandbox"), "card gateway: sandbox or stripe (PARKD_PAYMENTS)")
	since := fs.Duration("since", 30*24*time.Hour, "how far back to look")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	clock := parking.SystemClock{}
	gateway, sandbox, err := newGateway(cfg, getenv, clock)
	if err != nil {
		return err
	}
	if sandbox != nil {
		fmt.Fprintln(stderr, "parkd: the sandbox gateway keeps its ledger in the server's memory, so this process sees no charges;"+
			" ask the running server instead: GET /api/v1/admin/payments/reconcile")
	}
	store, _, err := openStore(ctx, cfg.db)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	rep, err := payments.New(store, gateway, booking.New(store, clock), clock, log).Reconcile(ctx, clock.Now().Add(-*since))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if !rep.Clean() {
		return fmt.Errorf("%d unmatched charges, %d paid reservations without a charge", len(rep.UnmatchedCharges), len(rep.PaidWithoutCharges))
	}
	return nil
}
