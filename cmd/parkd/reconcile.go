package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/payments"
)

// reconcileCommand is "parkd payments reconcile": it compares the gateway's
// charges with parkd's payments and prints what does not match, as JSON; it
// fails when anything does not, so that a scheduled run can alert.
func reconcileCommand() command {
	return command{name: "payments reconcile", summary: "compare the gateway's charges with parkd's payments",
		help: "Compares the card gateway's charges with parkd's payments and prints what does not match, as JSON;\n" +
			"exit status 1 when anything does not, so that a scheduled run can alert. The sandbox keeps its\n" +
			"ledger in the server's memory: ask the running server instead (GET /api/v1/admin/payments/reconcile).",
		define: func(fs *flagSet, a *app) func(context.Context, []string) error {
			cfg := config{}
			dbFlag(fs, &cfg.db)
			fs.Choice(&cfg.payments, "payments", "PARKD_PAYMENTS", "sandbox", []string{"sandbox", "stripe"}, "card gateway")
			var since time.Duration
			fs.Duration(&since, "since", "", 30*24*time.Hour, "how far back to look")
			return func(ctx context.Context, _ []string) error {
				clock := parking.SystemClock{}
				gateway, sandbox, err := newGateway(cfg, a.getenv, clock)
				if err != nil {
					return err
				}
				if sandbox != nil {
					fmt.Fprintln(a.stderr, "parkd: the sandbox gateway keeps its ledger in the server's memory, so this process sees no charges;"+
						" ask the running server instead: GET /api/v1/admin/payments/reconcile")
				}
				store, _, err := openStore(ctx, cfg.db)
				if err != nil {
					return fmt.Errorf("open database: %w", err)
				}
				defer store.Close()
				log := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{ReplaceAttr: redactCards}))
				rep, err := payments.New(store, gateway, booking.New(store, clock), clock, log).Reconcile(ctx, clock.Now().Add(-since))
				if err != nil {
					return err
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
				if !rep.Clean() {
					return fmt.Errorf("%d unmatched charges, %d paid reservations without a charge", len(rep.UnmatchedCharges), len(rep.PaidWithoutCharges))
				}
				return nil
			}
		}}
}
