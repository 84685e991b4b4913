package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The command line: "parkd [flags]" serves, "parkd COMMAND [flags] [args]"
// does one administrative task. Every command shares the server's --db (and
// PARKD_DB), parsed by the same code: a flag given before the command
// ("parkd --db x backup f") counts as given to it.
//
// Exit codes: 0 for success and for --help, 2 for a command line parkd cannot
// act on (an unknown command or flag, a bad value, a missing argument), 1 for
// anything that failed while doing the work.

// usageError is a command line parkd cannot act on. main exits 2 for it.
type usageError struct {
	command string // "parkd admin create"
	msg     string
}

func (e *usageError) Error() string {
	if strings.Contains(e.msg, "'parkd ") { // it says where to look already
		return e.msg
	}
	return fmt.Sprintf("%s; see '%s --help'", e.msg, e.command)
}

func usagef(command, format string, args ...any) error {
	return &usageError{command: command, msg: fmt.Sprintf(format, args...)}
}

// exitCode is the process exit status for an error run returned.
func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// app is what every command runs with.
type app struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

// command is one of parkd's commands.
type command struct {
	name    string // "admin create"
	args    string // its positional arguments in the synopsis: "FILE"
	nargs   int    // how many positional arguments it takes exactly
	summary string // one line, for the list of commands
	help    string // what it does, for its --help
	// define declares the command's flags on fs and returns what runs it
	// with its positional arguments once they are parsed.
	define func(fs *flagSet, a *app) func(ctx context.Context, args []string) error
}

// commands lists every command but serving, in the order help shows them.
func commands() []command {
	cs := []command{
		serveCommand(),
		{name: "version", summary: "print parkd's version and build", help: "Prints the module version and the VCS revision parkd was built from.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				return func(context.Context, []string) error { fmt.Fprintln(a.stdout, versionLine()); return nil }
			}},
	}
	cs = append(cs, accountCommands()...)
	cs = append(cs, gateCommands()...)
	cs = append(cs, spotCommands()...)
	cs = append(cs, reportCommands()...)
	cs = append(cs, databaseCommands()...)
	cs = append(cs, nginxCommand())
	cs = append(cs, reconcileCommand())
	return cs
}

// run is parkd: it parses the command line and runs the command it names,
// serving when it names none.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a := &app{getenv: getenv, stdout: stdout, stderr: stderr}
	top := newFlagSet("parkd", getenv)
	var cfg config
	defineServerFlags(top, &cfg)
	var showVersion bool
	top.Bool(&showVersion, "version", "", false, "print parkd's version and build, and exit")
	rest, err := top.parse(args, false)
	switch {
	case errors.Is(err, errHelp):
		a.topHelp(top)
		return nil
	case err != nil:
		return err
	case showVersion:
		fmt.Fprintln(stdout, versionLine())
		return nil
	case len(rest) == 0:
		return serve(ctx, cfg, a)
	}
	if rest[0] == "help" {
		return a.help(rest[1:], top)
	}
	c, n, group := findCommand(rest)
	if c == nil {
		if group != "" {
			if len(rest) > 1 && (rest[1] == "--help" || rest[1] == "-h" || rest[1] == "-help") {
				a.groupHelp(a.stdout, group)
				return nil
			}
			a.groupHelp(a.stderr, group)
			if len(rest) == 1 {
				return usagef("parkd "+group, "%q needs a command: one of %s", group, strings.Join(groupCommands(group), ", "))
			}
			return usagef("parkd "+group, "unknown command %q", group+" "+rest[1])
		}
		return usagef("parkd", "unknown command %q: run 'parkd help' for the list", rest[0])
	}
	return a.runCommand(ctx, *c, top, rest[n:])
}

// runCommand parses a command's flags and arguments and runs it.
func (a *app) runCommand(ctx context.Context, c command, top *flagSet, args []string) error {
	name := "parkd " + c.name
	fs := newFlagSet(name, a.getenv)
	action := c.define(fs, a)
	// Flags given before the command apply to it, if it has them.
	for _, f := range top.given {
		own, ok := fs.byName[f.name]
		if !ok {
			return usagef(name, "--%s is a flag of the server, not of %s", f.name, c.name)
		}
		if err := own.value.Set(f.raw); err != nil {
			return usagef(name, "--%s: %v", f.name, err)
		}
		own.set, own.raw = true, f.raw
	}
	rest, err := fs.parse(args, true)
	if errors.Is(err, errHelp) {
		a.commandHelp(a.stdout, c, fs)
		return nil
	}
	if err != nil {
		return err
	}
	if len(rest) != c.nargs {
		switch {
		case c.nargs == 0:
			return usagef(name, "unexpected argument %q: %s takes none", rest[0], c.name)
		case len(rest) < c.nargs:
			return usagef(name, "missing %s: run 'parkd %s %s'", c.args, c.name, c.args)
		default:
			return usagef(name, "unexpected argument %q: %s takes only %s", rest[c.nargs], c.name, c.args)
		}
	}
	if err := fs.checkRequired(); err != nil {
		return err
	}
	return action(ctx, rest)
}

// findCommand finds the command args start with; n is how many words name
// it. When args name only a group ("gate"), group is set.
func findCommand(args []string) (c *command, n int, group string) {
	cs := commands()
	for i := range cs {
		words := strings.Fields(cs[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == cs[i].name {
			return &cs[i], len(words), ""
		}
	}
	if len(groupCommands(args[0])) > 0 {
		return nil, 0, args[0]
	}
	return nil, 0, ""
}

// groupCommands lists the commands of a group ("gate issue", "gate list", ...).
func groupCommands(group string) []string {
	var out []string
	for _, c := range commands() {
		if g, _, ok := strings.Cut(c.name, " "); ok && g == group {
			out = append(out, c.name)
		}
	}
	return out
}

// help answers "parkd help [COMMAND]".
func (a *app) help(args []string, top *flagSet) error {
	args = strings.Fields(strings.Join(args, " ")) // "parkd help 'gate issue'" too
	if len(args) == 0 {
		a.topHelp(top)
		return nil
	}
	c, n, group := findCommand(args)
	switch {
	case c != nil && n == len(args):
		fs := newFlagSet("parkd "+c.name, a.getenv)
		c.define(fs, a)
		a.commandHelp(a.stdout, *c, fs)
		return nil
	case group != "" && len(args) == 1:
		a.groupHelp(a.stdout, group)
		return nil
	}
	return usagef("parkd help", "no command is called %q: run 'parkd help' for the list", strings.Join(args, " "))
}

func (a *app) topHelp(top *flagSet) {
	w := a.stdout
	fmt.Fprint(w, `parkd runs a parking reservation service, and administers it.

Usage:
  parkd [flags]                      serve (the same as "parkd serve")
  parkd COMMAND [flags] [arguments]  do one task, then exit
  parkd help COMMAND                 what a command does, and its flags

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Every command takes --db (or PARKD_DB), the server's database. Flags may come
before or after a command's arguments. Exit status: 0 done, 1 failed, 2 the
command line was wrong.

Flags of the server (parkd serve):
`)
	top.printFlags(w)
}

func (a *app) groupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: parkd %s COMMAND [flags]\n\nCommands:\n", group)
	for _, c := range commands() {
		if g, _, ok := strings.Cut(c.name, " "); ok && g == group {
			fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintf(w, "\nRun 'parkd help %s COMMAND' for a command's flags.\n", group)
}

func (a *app) commandHelp(w io.Writer, c command, fs *flagSet) {
	synopsis := "parkd " + c.name
	for _, f := range fs.flags {
		if f.required {
			synopsis += " --" + f.name + " " + f.placeholder()
		}
	}
	synopsis += " [flags]"
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, c.help)
	fs.printFlags(w)
}

// versionLine names the build: the module version ("(devel)" when built from a
// checkout) and the VCS revision, time and state the go command stamped in.
func versionLine() string {
	version, revision, at, modified := "unknown", "", "", false
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	line := "parkd " + version
	switch {
	case revision == "":
		line += ", revision unknown (built without VCS information)"
	default:
		line += ", revision " + revision
		if at != "" {
			line += " (" + at + ")"
		}
		if modified {
			line += " with uncommitted changes"
		}
	}
	if ok {
		line += ", " + bi.GoVersion
	}
	return line
}

// buildVersion returns the module version and VCS revision, for metrics.
func buildVersion() (version, revision string) {
	version, revision = "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	return version, revision
}

// errHelp is a request for help (-h, --help): answered with exit status 0.
var errHelp = errors.New("help requested")

// flagSet is a command's flags. It is parkd's own rather than package flag's
// so that every mistake is answered with a sentence of parkd's (naming the
// flag, saying what it wants) and flags may follow arguments.
type flagSet struct {
	command string // "parkd backup"
	getenv  func(string) string
	flags   []*cliFlag
	byName  map[string]*cliFlag
	given   []*cliFlag // set on the command line, in order
	envErr  error      // a PARKD_* variable with a bad value
}

type cliFlag struct {
	name     string
	env      string
	usage    string
	def      string
	value    flagValue
	required bool
	raw      string // the value given on the command line
	set      bool
}

// placeholder is the flag's value in a synopsis: its name in capitals.
func (f *cliFlag) placeholder() string {
	if p := f.value.placeholder(); p != "" {
		return p
	}
	return strings.ToUpper(strings.ReplaceAll(f.name, "-", "_"))
}

// flagValue parses one flag's text; errors are parkd's own sentences.
type flagValue interface {
	Set(s string) error
	isBool() bool
	placeholder() string // "" for the flag's name in capitals
}

func newFlagSet(command string, getenv func(string) string) *flagSet {
	return &flagSet{command: command, getenv: getenv, byName: map[string]*cliFlag{}}
}

// define adds a flag whose value starts as def, or as the variable env says.
func (fs *flagSet) define(v flagValue, name, env, def, usage string) *cliFlag {
	f := &cliFlag{name: name, env: env, usage: usage, def: def, value: v}
	if def != "" || v.isBool() {
		if def == "" {
			def = "false"
		}
		if err := v.Set(def); err != nil {
			panic(fmt.Sprintf("flag --%s: default %q: %v", name, def, err))
		}
	}
	if env != "" && fs.getenv != nil {
		if val := fs.getenv(env); val != "" {
			if err := v.Set(val); err != nil && fs.envErr == nil {
				fs.envErr = usagef(fs.command, "%s=%q: %v", env, val, err)
			}
		}
	}
	fs.flags = append(fs.flags, f)
	fs.byName[name] = f
	return f
}

// String, Bool, Duration, Int and Choice define flags of those kinds: name,
// the PARKD_* variable that sets it ("" for none), the default and the usage.
func (fs *flagSet) String(p *string, name, env, def, usage string) *cliFlag {
	return fs.define(stringValue{p}, name, env, def, usage)
}

func (fs *flagSet) Bool(p *bool, name, env string, def bool, usage string) *cliFlag {
	return fs.define(boolValue{p}, name, env, strconv.FormatBool(def), usage)
}

func (fs *flagSet) Duration(p *time.Duration, name, env string, def time.Duration, usage string) *cliFlag {
	return fs.define(durationValue{p}, name, env, formatDuration(def), usage)
}

func (fs *flagSet) Int(p *int, name, env string, def, min int, usage string) *cliFlag {
	return fs.define(intValue{p, min}, name, env, strconv.Itoa(def), usage)
}

func (fs *flagSet) Choice(p *string, name, env, def string, choices []string, usage string) *cliFlag {
	return fs.define(choiceValue{p, choices}, name, env, def, usage)
}

// Required marks a flag that must be given.
func (f *cliFlag) Required() *cliFlag {
	f.required = true
	return f
}

func (fs *flagSet) checkRequired() error {
	for _, f := range fs.flags {
		if f.required && !f.set && (f.env == "" || fs.getenv(f.env) == "") {
			return usagef(fs.command, "--%s is required", f.name)
		}
	}
	return nil
}

// parse reads flags from args and returns the arguments that are not flags.
// With interspersed, flags may follow arguments; otherwise the first
// argument ends the flags (so that "parkd --db x backup --help" asks the
// backup command, not the server). "--" ends the flags either way.
func (fs *flagSet) parse(args []string, interspersed bool) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(rest, args[i+1:]...), fs.envErr
		}
		if len(arg) < 2 || arg[0] != '-' {
			if !interspersed {
				return append(rest, args[i:]...), fs.envErr
			}
			rest = append(rest, arg)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
		name, value, hasValue := strings.Cut(name, "=")
		if name == "h" || name == "help" {
			return nil, errHelp
		}
		f, ok := fs.byName[name]
		if !ok {
			if name == "" || strings.HasPrefix(name, "-") {
				return nil, usagef(fs.command, "%q is not a flag", arg)
			}
			return nil, usagef(fs.command, "unknown flag --%s", name)
		}
		if !hasValue {
			if f.value.isBool() {
				value = "true"
			} else {
				if i+1 >= len(args) {
					return nil, usagef(fs.command, "--%s needs a value (%s)", name, f.placeholder())
				}
				i++
				value = args[i]
			}
		}
		if err := f.value.Set(value); err != nil {
			return nil, usagef(fs.command, "--%s %q: %v", name, value, err)
		}
		f.set, f.raw = true, value
		fs.given = append(fs.given, f)
	}
	return rest, fs.envErr
}

// printFlags lists the flags, with their variables and defaults.
func (fs *flagSet) printFlags(w io.Writer) {
	fl := append([]*cliFlag(nil), fs.flags...)
	sort.SliceStable(fl, func(i, j int) bool { return fl[i].required && !fl[j].required })
	for _, f := range fl {
		head := "  --" + f.name
		if !f.value.isBool() {
			head += " " + f.placeholder()
		}
		var notes []string
		if f.required {
			notes = append(notes, "required")
		}
		if f.env != "" {
			notes = append(notes, "env "+f.env)
		}
		if f.def != "" && !f.required && f.def != "false" {
			notes = append(notes, "default "+f.def)
		}
		line := f.usage
		if len(notes) > 0 {
			line += " (" + strings.Join(notes, "; ") + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", head, line)
	}
}

type stringValue struct{ p *string }

func (v stringValue) Set(s string) error  { *v.p = s; return nil }
func (v stringValue) isBool() bool        { return false }
func (v stringValue) placeholder() string { return "" }

type boolValue struct{ p *bool }

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v.p = b
	return nil
}
func (v boolValue) isBool() bool        { return true }
func (v boolValue) placeholder() string { return "" }

type durationValue struct{ p *time.Duration }

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration such as 30s, 5m or 2h")
	}
	*v.p = d
	return nil
}
func (v durationValue) isBool() bool        { return false }
func (v durationValue) placeholder() string { return "DURATION" }

// formatDuration writes a default duration as people write it: "5s", "720h".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

type intValue struct {
	p   *int
	min int
}

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < v.min {
		return fmt.Errorf("want a whole number of at least %d", v.min)
	}
	*v.p = n
	return nil
}
func (v intValue) isBool() bool        { return false }
func (v intValue) placeholder() string { return "N" }

type choiceValue struct {
	p       *string
	choices []string
}

func (v choiceValue) Set(s string) error {
	for _, c := range v.choices {
		if s == c {
			*v.p = s
			return nil
		}
	}
	return fmt.Errorf("want %s", orList(v.choices))
}
func (v choiceValue) isBool() bool        { return false }
func (v choiceValue) placeholder() string { return strings.Join(v.choices, "|") }

// levelValue is a log level by name.
type levelValue struct{ p *slog.Level }

func (v levelValue) Set(s string) error {
	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	l, ok := levels[strings.ToLower(s)]
	if !ok {
		return errors.New("want debug, info, warn or error")
	}
	*v.p = l
	return nil
}
func (v levelValue) isBool() bool        { return false }
func (v levelValue) placeholder() string { return "LEVEL" }

// orList writes "a, b or c".
func orList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}
