package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"text/tabwriter"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

// withStore opens the database, runs fn and closes it.
func withStore(ctx context.Context, db string, fn func(parking.Store) error) error {
	store, _, err := openStore(ctx, db)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()
	return fn(store)
}

// newPassword makes a password to print once.
func newPassword() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var roles = []string{string(parking.RoleDriver), string(parking.RoleOperator), string(parking.RoleAdmin)}

// operatorOf resolves the operator a user with role runs lots for: named by
// --operator, or the operator of --lot. Only operators have one.
func operatorOf(ctx context.Context, store parking.Store, command, role, operatorID, lotID string) (string, error) {
	switch {
	case operatorID != "" && lotID != "":
		return "", usagef(command, "give --operator or --lot, not both")
	case role != string(parking.RoleOperator) && (operatorID != "" || lotID != ""):
		return "", usagef(command, "only operators run lots: --operator and --lot go with --role operator")
	case role != string(parking.RoleOperator):
		return "", nil
	case lotID != "":
		lot, err := store.Lot(ctx, lotID)
		if err != nil {
			return "", fmt.Errorf("lot %s: %w", lotID, err)
		}
		return lot.OperatorID, nil
	case operatorID != "":
		if _, err := store.Operator(ctx, operatorID); err != nil {
			return "", fmt.Errorf("operator %s: %w", operatorID, err)
		}
		return operatorID, nil
	}
	return "", usagef(command, "an operator runs the lots of an operator: give --lot LOT or --operator OPERATOR")
}

func accountCommands() []command {
	createUser := func(role string, fixedRole bool) func(fs *flagSet, a *app) func(context.Context, []string) error {
		return func(fs *flagSet, a *app) func(context.Context, []string) error {
			role := role
			var db, email, name, password, operatorID, lotID string
			dbFlag(fs, &db)
			fs.String(&email, "email", "", "", "the user's email").Required()
			defName := "Administrator"
			if !fixedRole {
				defName = ""
				fs.Choice(&role, "role", "", "", roles, "what the user may do").Required()
				fs.String(&operatorID, "operator", "", "", "for an operator: the operator whose lots they run")
				fs.String(&lotID, "lot", "", "", "for an operator: a lot of the operator whose lots they run")
			}
			fs.String(&name, "name", "", defName, "the user's name (default: the email's local part)")
			fs.String(&password, "password", "PARKD_ADMIN_PASSWORD", "", "the password; a random one is made and printed when empty")
			command := "parkd admin create"
			if !fixedRole {
				command = "parkd user create"
			}
			return func(ctx context.Context, _ []string) error {
				if name == "" {
					name, _, _ = strings.Cut(email, "@")
				}
				generated := password == ""
				if generated {
					password = newPassword()
				}
				return withStore(ctx, db, func(store parking.Store) error {
					opr, err := operatorOf(ctx, store, command, role, operatorID, lotID)
					if err != nil {
						return err
					}
					u, err := auth.New(store, parking.SystemClock{}).CreateUser(ctx, name, email, password, parking.Role(role), opr)
					if err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "created %s %s (%s)\n", u.Role, u.Email, u.ID)
					if generated {
						fmt.Fprintf(a.stdout, "password: %s\n", password)
					}
					return nil
				})
			}
		}
	}
	return []command{
		{name: "admin create", summary: "create an administrator (for a new installation's first sign-in)",
			help:   "Creates an administrator account and prints its id, and its password when one is generated.",
			define: createUser(string(parking.RoleAdmin), true)},
		{name: "user create", summary: "create a driver, operator or administrator account",
			help: "Creates an account. An operator runs the lots of one operator: name it with --operator, or\n" +
				"with --lot one of its lots ('parkd operator list', 'parkd lot list').",
			define: createUser("", false)},
		{name: "user role", summary: "change a user's role; make a user operator of a lot",
			help: "Gives an existing user a role. 'parkd user role --email E --role operator --lot LOT' makes them\n" +
				"an operator of the lot's operator, who runs its lots; --role driver takes that away.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db, email, role, operatorID, lotID string
				dbFlag(fs, &db)
				fs.String(&email, "email", "", "", "the user's email").Required()
				fs.Choice(&role, "role", "", "", roles, "the new role").Required()
				fs.String(&operatorID, "operator", "", "", "for an operator: the operator whose lots they run")
				fs.String(&lotID, "lot", "", "", "for an operator: a lot of the operator whose lots they run")
				return func(ctx context.Context, _ []string) error {
					return withStore(ctx, db, func(store parking.Store) error {
						opr, err := operatorOf(ctx, store, "parkd user role", role, operatorID, lotID)
						if err != nil {
							return err
						}
						u, err := store.UserByEmail(ctx, parking.NormalizeEmail(email))
						if err != nil {
							return fmt.Errorf("user %s: %w", email, err)
						}
						if err := store.SetUserRole(ctx, u.ID, parking.Role(role), opr); err != nil {
							return err
						}
						if opr != "" {
							fmt.Fprintf(a.stdout, "%s is now an operator of %s\n", u.Email, opr)
						} else {
							fmt.Fprintf(a.stdout, "%s is now %s\n", u.Email, role)
						}
						return nil
					})
				}
			}},
		{name: "operator create", summary: "create an operator (a company that runs lots)",
			help: "Creates an operator, the company that runs lots, and prints its id: lots are created for it\n" +
				"(POST /api/v1/lots with operator_id) and its staff are made its operators ('parkd user create').",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db, name string
				dbFlag(fs, &db)
				fs.String(&name, "name", "", "", "the operator's name").Required()
				return func(ctx context.Context, _ []string) error {
					name = strings.TrimSpace(name)
					if name == "" {
						return usagef("parkd operator create", "--name must not be blank")
					}
					return withStore(ctx, db, func(store parking.Store) error {
						o := parking.Operator{ID: parking.NewID("opr"), Name: name, CreatedAt: parking.SystemClock{}.Now()}
						if err := store.CreateOperator(ctx, &o); err != nil {
							return err
						}
						fmt.Fprintf(a.stdout, "created operator %s (%s)\n", o.Name, o.ID)
						return nil
					})
				}
			}},
		{name: "operator list", summary: "list the operators",
			help: "Lists every operator: its id and name.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db string
				dbFlag(fs, &db)
				return func(ctx context.Context, _ []string) error {
					return withStore(ctx, db, func(store parking.Store) error {
						ops, err := store.Operators(ctx)
						if err != nil {
							return err
						}
						w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(w, "ID\tNAME")
						for _, o := range ops {
							fmt.Fprintf(w, "%s\t%s\n", o.ID, o.Name)
						}
						return w.Flush()
					})
				}
			}},
		{name: "lot list", summary: "list the lots",
			help: "Lists every lot: its id, operator, time zone, currency and name.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db string
				dbFlag(fs, &db)
				return func(ctx context.Context, _ []string) error {
					return withStore(ctx, db, func(store parking.Store) error {
						lots, err := store.Lots(ctx)
						if err != nil {
							return err
						}
						w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(w, "ID\tOPERATOR\tTIME ZONE\tCURRENCY\tNAME")
						for _, l := range lots {
							fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", l.ID, l.OperatorID, l.TimeZone, l.Currency, l.Name)
						}
						return w.Flush()
					})
				}
			}},
	}
}
