package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/demo"
	"parkd/internal/gate"
	"parkd/internal/httpapi"
	"parkd/internal/jobs"
	"parkd/internal/live"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/pass"
	"parkd/internal/payments"
	"parkd/internal/store/postgres"
	"parkd/internal/store/sqlite"
)

// config is everything parkd reads from flags and PARKD_* variables; a flag
// wins over its variable.
type config struct {
	addr        string
	db          string
	noDemo      bool
	payments    string
	logLevel    slog.Level
	sweepEvery  time.Duration
	livePoll    time.Duration
	origins     []string
	shutdownMax time.Duration
	smtpAddr    string
	smtpFrom    string
	publicURL   string
	notifyEvery time.Duration
	privateHook bool
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("parkd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.addr, "addr", env("PARKD_ADDR", ":8080"), "address to serve HTTP on (PARKD_ADDR)")
	fs.StringVar(&c.db, "db", env("PARKD_DB", "parkd.db"), "database: a SQLite file path, or a postgres:// URL (PARKD_DB)")
	noDemo, _ := strconv.ParseBool(env("PARKD_NO_DEMO", "false"))
	fs.BoolVar(&c.noDemo, "no-demo", noDemo, "do not create the demo lots in an empty database (PARKD_NO_DEMO)")
	level := fs.String("log-level", env("PARKD_LOG_LEVEL", "info"), "debug, info, warn or error (PARKD_LOG_LEVEL)")
	fs.StringVar(&c.payments, "payments", env("PARKD_PAYMENTS", "sandbox"), "card gateway: sandbox or stripe (PARKD_PAYMENTS)")
	fs.DurationVar(&c.sweepEvery, "sweep-every", 5*time.Second, "how often expired holds are swept")
	fs.DurationVar(&c.livePoll, "live-poll", 25*time.Millisecond, "how often the live map reads new events")
	origins := fs.String("allowed-origins", env("PARKD_ALLOWED_ORIGINS", ""),
		"comma-separated hosts, besides parkd's own, whose pages may open the live WebSocket (PARKD_ALLOWED_ORIGINS)")
	fs.DurationVar(&c.shutdownMax, "shutdown-timeout", 20*time.Second, "how long in-flight requests get to finish on shutdown")
	fs.StringVar(&c.smtpAddr, "smtp-addr", env("PARKD_SMTP_ADDR", ""),
		"SMTP server (host:port) that sends notification emails; none sends no email (PARKD_SMTP_ADDR; PARKD_SMTP_USERNAME and PARKD_SMTP_PASSWORD authenticate)")
	fs.StringVar(&c.smtpFrom, "smtp-from", env("PARKD_SMTP_FROM", "parkd <noreply@parkd.invalid>"), "sender of notification emails (PARKD_SMTP_FROM)")
	fs.StringVar(&c.publicURL, "public-url", env("PARKD_PUBLIC_URL", ""),
		"where users reach parkd, for links in emails, e.g. https://parking.example.com (PARKD_PUBLIC_URL; default http://localhost and the port)")
	fs.DurationVar(&c.notifyEvery, "notify-every", 2*time.Second, "how often notifications are derived from events and sent")
	privateHook, _ := strconv.ParseBool(env("PARKD_WEBHOOKS_ALLOW_PRIVATE", "false"))
	fs.BoolVar(&c.privateHook, "webhooks-allow-private", privateHook,
		"let operators' webhooks reach loopback and private addresses (PARKD_WEBHOOKS_ALLOW_PRIVATE)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.origins = append(c.origins, o)
		}
	}
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return c, fmt.Errorf("--log-level: %w", err)
	}
	if c.payments != "sandbox" && c.payments != "stripe" {
		return c, fmt.Errorf("--payments: want sandbox or stripe, not %q", c.payments)
	}
	return c, nil
}

// openStore picks the backend from the address's form.
func openStore(ctx context.Context, db string) (parking.Store, string, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		s, err := postgres.Open(ctx, db)
		return s, "postgres", err
	}
	s, err := sqlite.Open(ctx, strings.TrimPrefix(db, "sqlite:"))
	return s, "sqlite", err
}

// run starts parkd and serves until ctx is cancelled, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "admin" {
		return runAdmin(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "payments" {
		return runPayments(ctx, args[1:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel}))
	clock := parking.SystemClock{}

	store, backend, err := openStore(ctx, cfg.db)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()
	log.Info("database ready", "backend", backend)

	// The live map hears of this instance's changes at once, and of other
	// instances' changes at its next poll of the outbox.
	hub := live.NewHub(log, store, clock)
	changes := hub.Waking(store)
	engine := booking.New(changes, clock)
	authn := auth.New(store, clock)
	gateway, sandbox, err := newGateway(cfg, getenv, clock)
	if err != nil {
		return err
	}
	pay := payments.New(changes, gateway, engine, clock, log)
	log.Info("payments", "gateway", gateway.Name())
	passKeys, err := ensurePassKeys(ctx, store, clock)
	if err != nil {
		return fmt.Errorf("pass keys: %w", err)
	}
	keys, err := pass.NewKeyring(passKeys[0], passKeys[1:]...)
	if err != nil {
		return fmt.Errorf("pass keys: %w", err)
	}
	gates := gate.New(changes, engine, pay, keys, clock, log)
	if !cfg.noDemo {
		lots, created, err := demo.Seed(ctx, store, authn, clock)
		if err != nil {
			return fmt.Errorf("create demo: %w", err)
		}
		if created {
			log.Info("created the demo lots and accounts: sign in with POST /api/v1/sessions",
				"garage", lots.Garage.ID, "mall", lots.Mall.ID,
				"driver", demo.DriverEmail+" / "+demo.DriverPassword,
				"operator", demo.OperatorEmail+" / "+demo.OperatorPassword+" (runs the garage)")
		}
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	notifier := newNotifier(cfg, getenv, store, gates, passKeys, clock, log, ln.Addr())
	srv := &http.Server{
		Handler: httpapi.NewHandler(httpapi.Services{Log: log, Store: changes, Engine: engine, Auth: authn, Payments: pay, Gates: gates, Clock: clock,
			Live: hub, AllowedOrigins: cfg.origins, Notify: notifier,
			StripePublishableKey: getenv("PARKD_STRIPE_PUBLISHABLE_KEY")}),
		ReadHeaderTimeout: httpapi.ReadHeaderTimeout,
		ReadTimeout:       httpapi.ReadTimeout,
		WriteTimeout:      httpapi.WriteTimeout,
		IdleTimeout:       httpapi.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	background, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	// Bookings never wait for these: a lapsed hold or a no-show stops blocking
	// at its deadline. The jobs record and announce what happened, and each
	// transition happens once, also with several instances.
	// The live map follows the outbox; stopping it ends the live streams, so
	// that shutting the server down does not wait for them.
	go hub.Run(background, cfg.livePoll)
	go jobs.Every(background, cfg.sweepEvery, log, "expire holds", func(ctx context.Context) error {
		_, err := engine.ExpireHolds(ctx)
		return err
	})
	go jobs.Every(background, cfg.sweepEvery, log, "no-shows, overstays and moves", func(ctx context.Context) error {
		sw, err := engine.RunLifecycle(ctx)
		if err != nil {
			return err
		}
		if len(sw.Cancelled) > 0 {
			// Bookings no spot fitted any more: the lot cancelled them, and
			// their money goes back in full now. The sweep below catches any
			// that an interruption leaves unrefunded.
			_, err = pay.RefundDisplaced(ctx)
		}
		return err
	})
	go jobs.Every(background, time.Minute, log, "refund displaced bookings", func(ctx context.Context) error {
		_, err := pay.RefundDisplaced(ctx)
		return err
	})
	go jobs.Every(background, time.Minute, log, "retry refunds", func(ctx context.Context) error {
		_, err := pay.RetryRefunds(ctx)
		return err
	})
	// Several instances may run both: notifications are stored once (unique
	// keys) and each is claimed by one instance at a time.
	go jobs.Every(background, cfg.notifyEvery, log, "derive notifications", func(ctx context.Context) error {
		_, err := notifier.Derive(ctx)
		return err
	})
	go jobs.Every(background, cfg.notifyEvery, log, "send notifications", func(ctx context.Context) error {
		_, err := notifier.Deliver(ctx)
		return err
	})
	go jobs.Every(background, time.Hour, log, "forget idempotency keys", func(ctx context.Context) error {
		_, err := store.DeleteExpiredIdempotencyKeys(ctx, clock.Now())
		return err
	})
	if sandbox != nil {
		// The sandbox delivers its webhooks to this very server.
		sandbox.SetWebhookURL("http://" + loopback(ln.Addr()) + "/api/v1/payments/webhook")
		go jobs.Every(background, time.Second, log, "sandbox webhooks", func(ctx context.Context) error {
			_, err := sandbox.Deliver(ctx)
			return err
		})
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	stopJobs()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownMax)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// newGateway builds the card gateway the configuration names. The sandbox is
// returned a second time so that run can point its webhooks at this server.
func newGateway(cfg config, getenv func(string) string, clock parking.Clock) (payments.Gateway, *payments.Sandbox, error) {
	if cfg.payments == "stripe" {
		key, secret := getenv("PARKD_STRIPE_SECRET_KEY"), getenv("PARKD_STRIPE_WEBHOOK_SECRET")
		if key == "" || secret == "" {
			return nil, nil, fmt.Errorf("--payments stripe needs PARKD_STRIPE_SECRET_KEY and PARKD_STRIPE_WEBHOOK_SECRET")
		}
		var opts []payments.StripeOption
		if url := getenv("PARKD_STRIPE_API_URL"); url != "" {
			opts = append(opts, payments.WithStripeURL(url))
		}
		return payments.NewStripe(key, secret, opts...), nil, nil
	}
	secret := getenv("PARKD_SANDBOX_WEBHOOK_SECRET")
	if secret == "" {
		b := make([]byte, 24)
		rand.Read(b)
		secret = "whsec_sandbox_" + hex.EncodeToString(b)
	}
	s := payments.NewSandbox(secret, clock)
	return s, s, nil
}

// loopback turns a listening address into one this process can dial: an
// unspecified host (":8080", "[::]:8080") becomes 127.0.0.1.
func loopback(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// ensurePassKeys loads the keys that sign gate passes (and, derived from them,
// unsubscribe links), newest first, shared by every instance on the database:
// the first instance to start stores a random one.
func ensurePassKeys(ctx context.Context, store parking.Store, clock parking.Clock) ([]pass.Key, error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	id := make([]byte, 3)
	rand.Read(id)
	stored, err := store.EnsurePassKey(ctx, parking.PassKey{ID: "k" + hex.EncodeToString(id), Secret: secret, CreatedAt: clock.Now()})
	if err != nil {
		return nil, err
	}
	keys := make([]pass.Key, len(stored))
	for i, k := range stored {
		keys[i] = pass.Key{ID: k.ID, Secret: k.Secret}
	}
	return keys, nil
}

// newNotifier builds the notification service: email through PARKD_SMTP_ADDR
// when set, links to publicURL, unsubscribe links signed with a key derived
// from the stored pass keys (so every instance checks every other's links).
func newNotifier(cfg config, getenv func(string) string, store parking.Store, gates *gate.Service,
	passKeys []pass.Key, clock parking.Clock, log *slog.Logger, addr net.Addr) *notify.Service {
	var keys [][]byte
	for _, k := range passKeys {
		m := hmac.New(sha256.New, k.Secret)
		m.Write([]byte("parkd unsubscribe links"))
		keys = append(keys, m.Sum(nil))
	}
	c := notify.Config{
		Store: store, Clock: clock, Log: log, BaseURL: cfg.publicURL, UnsubscribeKeys: keys,
		AllowPrivateWebhooks: cfg.privateHook,
		PassPNG: func(ctx context.Context, r parking.Reservation) ([]byte, error) {
			p, err := gates.PassFor(ctx, r)
			if err != nil {
				return nil, err
			}
			return pass.PNG(p.Code, 512)
		},
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + loopback(addr)
	}
	if cfg.smtpAddr != "" {
		c.Mailer = &notify.SMTP{Addr: cfg.smtpAddr, From: cfg.smtpFrom,
			Username: getenv("PARKD_SMTP_USERNAME"), Password: getenv("PARKD_SMTP_PASSWORD")}
		log.Info("notification emails", "smtp", cfg.smtpAddr, "from", cfg.smtpFrom)
	} else {
		log.Info("notification emails are off: set PARKD_SMTP_ADDR to send them")
	}
	return notify.New(c)
}
