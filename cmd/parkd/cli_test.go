package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs parkd with args and no environment and returns what it printed
// and its exit status, as main would set it.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errs bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errs)
	if err != nil {
		errs.WriteString("parkd: " + err.Error() + "\n")
		code = exitCode(err)
	}
	return out.String(), errs.String(), code
}

// badValueFlag returns a flag of c that not every text is a value of, or nil.
func badValueFlag(c command) *cliFlag {
	fs := newFlagSet("parkd "+c.name, func(string) string { return "" })
	c.define(fs, &app{getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	for _, f := range fs.flags {
		switch f.value.(type) {
		case stringValue, listValue:
		default:
			return f
		}
	}
	return nil
}

// TestEveryCommandHelpAndBadFlag is acceptance 3: every command answers
// --help with its usage and exit status 0, and an unknown flag or a bad value
// with a sentence naming the flag and exit status 2.
func TestEveryCommandHelpAndBadFlag(t *testing.T) {
	cs := commands()
	if len(cs) < 15 {
		t.Fatalf("%d commands; want every one listed", len(cs))
	}
	top, _, code := runCLI(t, "--help")
	if code != 0 {
		t.Fatalf("parkd --help exit %d", code)
	}
	for _, c := range cs {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			words := strings.Fields(c.name)
			if !strings.Contains(top, "  "+c.name+" ") {
				t.Errorf("parkd --help does not list %q", c.name)
			}
			for _, args := range [][]string{append(words, "--help"), append(words, "-h"), {"help", c.name}, append([]string{"help"}, words...)} {
				out, errs, code := runCLI(t, args...)
				if code != 0 || !strings.Contains(out, "Usage: parkd "+c.name) || errs != "" {
					t.Errorf("parkd %s: exit %d, stdout %q, stderr %q; want 0 and the usage", strings.Join(args, " "), code, out, errs)
				}
			}
			_, errs, code := runCLI(t, append(words, "--no-such-flag")...)
			if code != 2 || !strings.Contains(errs, "unknown flag --no-such-flag") {
				t.Errorf("parkd %s --no-such-flag: exit %d, %q; want 2 and a sentence naming the flag", c.name, code, errs)
			}
			if f := badValueFlag(c); f != nil {
				arg := "--" + f.name + "=not-a-value"
				_, errs, code := runCLI(t, append(words, arg)...)
				if code != 2 || !strings.Contains(errs, "--"+f.name+" \"not-a-value\": want") {
					t.Errorf("parkd %s %s: exit %d, %q; want 2 and a sentence naming the flag", c.name, arg, code, errs)
				}
			}
		})
	}
}

func TestCommandLineMistakes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // in the message
	}{
		{[]string{"--log-level", "loud"}, `--log-level "loud": want debug, info, warn or error`},
		{[]string{"--nope"}, "unknown flag --nope"},
		{[]string{"extra"}, `unknown command "extra"`},
		{[]string{"--db", "x", "admin", "create"}, "--email is required"},
		{[]string{"--addr", ":1", "backup", "f"}, "--addr is a flag of the server, not of backup"},
		{[]string{"admin"}, `"admin" needs a command`},
		{[]string{"gate", "open"}, `unknown command "gate open"`},
		{[]string{"backup"}, "missing FILE"},
		{[]string{"backup", "a", "b"}, `unexpected argument "b"`},
		{[]string{"migrate", "status", "x"}, `unexpected argument "x"`},
		{[]string{"--sweep-every", "0"}, "want a positive duration"},
		{[]string{"--db"}, "--db needs a value"},
		{[]string{"user", "create", "--email", "a@b.c", "--role", "king"}, `--role "king": want driver, operator or admin`},
		{[]string{"user", "create", "--email", "a@b.c", "--role", "operator"}, "give --lot LOT or --operator OPERATOR"},
		{[]string{"report", "revenue", "--to", "2030-02-30"}, "want a date"},
		{[]string{"help", "nope"}, `no command is called "nope"`},
	} {
		args := tt.args
		if len(args) > 2 && args[0] == "user" {
			args = append(args, "--db", filepath.Join(t.TempDir(), "parkd.db"))
		}
		_, errs, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("parkd %s: exit %d, %q; want 2 and %q", strings.Join(tt.args, " "), code, errs, tt.want)
		}
	}
	env := map[string]string{"PARKD_LOG_LEVEL": "loud"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &bytes.Buffer{}, &bytes.Buffer{})
	var u *usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), `PARKD_LOG_LEVEL="loud": want debug`) {
		t.Errorf("PARKD_LOG_LEVEL=loud: %v; want a usage error naming the variable", err)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, _, code := runCLI(t, args...)
		if code != 0 || !strings.HasPrefix(out, "parkd ") || !strings.Contains(out, "revision") {
			t.Errorf("parkd %s = %q, exit %d; want the version and revision", args[0], out, code)
		}
	}
}

// TestExitStatus runs the built binary: main turns errors into exit status 2
// for a wrong command line and 1 for a failure.
func TestExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds parkd")
	}
	bin := filepath.Join(t.TempDir(), "parkd")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"admin", "create", "--help"}, 0},
		{[]string{"admin", "create", "--bogus"}, 2},
		{[]string{"--log-level", "loud"}, 2},
		{[]string{"migrate", "status", "--db", filepath.Join(t.TempDir(), "missing.db")}, 1},
	} {
		cmd := exec.Command(bin, tt.args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.code {
			t.Errorf("parkd %s: exit %d; want %d\n%s", strings.Join(tt.args, " "), code, tt.code, out)
		}
	}
}
