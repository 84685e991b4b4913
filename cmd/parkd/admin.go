package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

// runAdmin runs "parkd admin create": it creates an administrator account from
// the command line, for the first sign-in of a new installation.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: parkd admin create --email EMAIL [--name NAME] [--password PASSWORD] [--db DB]")
	}
	fs := flag.NewFlagSet("parkd admin create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", envOr(getenv, "PARKD_DB", "parkd.db"), "database: a SQLite file path, or a postgres:// URL (PARKD_DB)")
	email := fs.String("email", "", "the administrator's email (required)")
	name := fs.String("name", "Administrator", "the administrator's name")
	password := fs.String("password", getenv("PARKD_ADMIN_PASSWORD"), "the password (PARKD_ADMIN_PASSWORD); a random one is made and printed when empty")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("--email is required")
	}
	generated := *password == ""
	if generated {
		b := make([]byte, 18)
		rand.Read(b)
		*password = base64.RawURLEncoding.EncodeToString(b)
	}
	store, _, err := openStore(ctx, *db)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()
	u, err := auth.New(store, parking.SystemClock{}).CreateUser(ctx, *name, *email, *password, parking.RoleAdmin, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created admin %s (%s)\n", u.Email, u.ID)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", *password)
	}
	return nil
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
