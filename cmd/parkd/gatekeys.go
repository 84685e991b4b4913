package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

// gateCommands issue and revoke the device keys of gates.
func gateCommands() []command {
	return []command{
		{name: "gate issue", summary: "register a gate device at a lot and print its key",
			help: "Registers a gate (a scanner at an entry or exit) at a lot and prints its device key, once:\n" +
				"parkd keeps only its hash. The device sends it as 'Authorization: Bearer KEY'.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db, lotID, name, direction string
				dbFlag(fs, &db)
				fs.String(&lotID, "lot", "", "", "the lot the gate is at").Required()
				fs.String(&name, "name", "", "", "the gate's name, such as \"North entry\"").Required()
				fs.Choice(&direction, "direction", "", "", []string{string(parking.Entry), string(parking.Exit)}, "which way it lets cars through").Required()
				return func(ctx context.Context, _ []string) error {
					if name = strings.TrimSpace(name); name == "" {
						return usagef("parkd gate issue", "--name must not be blank")
					}
					return withStore(ctx, db, func(store parking.Store) error {
						if _, err := store.Lot(ctx, lotID); err != nil {
							return fmt.Errorf("lot %s: %w", lotID, err)
						}
						key, hash := auth.NewGateKey()
						g := parking.Gate{ID: parking.NewID("gat"), LotID: lotID, Name: name, Direction: parking.Direction(direction),
							KeyHash: hash, CreatedAt: parking.SystemClock{}.Now()}
						if err := store.CreateGate(ctx, &g); err != nil {
							return err
						}
						fmt.Fprintf(a.stdout, "gate %s (%s, %s)\nkey: %s\n", g.ID, g.Name, g.Direction, key)
						return nil
					})
				}
			}},
		{name: "gate rotate", summary: "issue a new key for a gate; its old key stops working",
			help: "Gives a gate a new device key and prints it, once; the old key stops working at once.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db, gateID string
				dbFlag(fs, &db)
				fs.String(&gateID, "gate", "", "", "the gate's id").Required()
				return func(ctx context.Context, _ []string) error {
					return withStore(ctx, db, func(store parking.Store) error {
						key, hash := auth.NewGateKey()
						if err := store.SetGateKey(ctx, gateID, hash); err != nil {
							return fmt.Errorf("gate %s: %w", gateID, err)
						}
						fmt.Fprintf(a.stdout, "gate %s\nkey: %s\n", gateID, key)
						return nil
					})
				}
			}},
		{name: "gate revoke", summary: "revoke a gate's key (a lost or stolen device)",
			help: "Revokes a gate's device key: it stops working at once. The gate and its log stay; 'parkd gate\n" +
				"rotate' gives it a new key.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db, gateID string
				dbFlag(fs, &db)
				fs.String(&gateID, "gate", "", "", "the gate's id").Required()
				return func(ctx context.Context, _ []string) error {
					return withStore(ctx, db, func(store parking.Store) error {
						// No key hashes to this: a hash is hex, and this is not.
						if err := store.SetGateKey(ctx, gateID, "revoked:"+parking.NewID("x")); err != nil {
							return fmt.Errorf("gate %s: %w", gateID, err)
						}
						fmt.Fprintf(a.stdout, "revoked the key of gate %s\n", gateID)
						return nil
					})
				}
			}},
		{name: "gate list", summary: "list a lot's gates",
			help: "Lists a lot's gates: id, direction, name, and whether its key is revoked.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db, lotID string
				dbFlag(fs, &db)
				fs.String(&lotID, "lot", "", "", "the lot").Required()
				return func(ctx context.Context, _ []string) error {
					return withStore(ctx, db, func(store parking.Store) error {
						gs, err := store.Gates(ctx, lotID)
						if err != nil {
							return err
						}
						w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(w, "ID\tDIRECTION\tKEY\tNAME")
						for _, g := range gs {
							state := "active"
							if strings.HasPrefix(g.KeyHash, "revoked:") {
								state = "revoked"
							}
							fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", g.ID, g.Direction, state, g.Name)
						}
						return w.Flush()
					})
				}
			}},
	}
}
