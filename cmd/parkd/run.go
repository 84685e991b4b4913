package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/demo"
	"parkd/internal/gate"
	"parkd/internal/httpapi"
	"parkd/internal/idempotency"
	"parkd/internal/jobs"
	"parkd/internal/live"
	"parkd/internal/lots"
	"parkd/internal/metrics"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/pass"
	"parkd/internal/payments"
	"parkd/internal/report"
	"parkd/internal/retention"
	"parkd/internal/web"
)

// config is everything the server reads from flags and PARKD_* variables; a
// flag wins over its variable.
type config struct {
	addr        string
	db          string
	noDemo      bool
	payments    string
	logLevel    slog.Level
	sweepEvery  time.Duration
	livePoll    time.Duration
	liveListen  time.Duration
	origins     []string
	proxies     []string
	shutdownMax time.Duration
	smtpAddr    string
	smtpFrom    string
	publicURL   string
	notifyEvery time.Duration
	privateHook bool
	metricsAddr string
	accessLog   bool
	retention   retention.Config
	mapTiles    string
	mapCredit   string
}

// Where metrics are served, besides an address of their own.
const (
	metricsOff  = "off"  // nowhere
	metricsMain = "main" // at /metrics on the main address
)

// profileWriteTimeout bounds answers on the metrics address: long enough for
// a CPU profile or trace of a minute (?seconds=60).
const profileWriteTimeout = 90 * time.Second

// dbFlag is the database flag every command shares with the server.
func dbFlag(fs *flagSet, db *string) *cliFlag {
	return fs.String(db, "db", "PARKD_DB", "parkd.db", "database: a SQLite file path, a postgres:// URL or a mysql:// URL")
}

// defineServerFlags declares the server's flags, for "parkd" and "parkd serve".
func defineServerFlags(fs *flagSet, c *config) {
	fs.String(&c.addr, "addr", "PARKD_ADDR", ":8080", "address to serve HTTP on")
	dbFlag(fs, &c.db)
	fs.Bool(&c.noDemo, "no-demo", "PARKD_NO_DEMO", false, "do not create the demo lots in an empty database")
	fs.define(levelValue{&c.logLevel}, "log-level", "PARKD_LOG_LEVEL", "info", "debug, info, warn or error; logs are JSON lines on stdout")
	fs.Bool(&c.accessLog, "access-log", "PARKD_ACCESS_LOG", true, "log one line per request at info level")
	fs.Choice(&c.payments, "payments", "PARKD_PAYMENTS", "sandbox", []string{"sandbox", "stripe"}, "card gateway")
	fs.Duration(&c.sweepEvery, "sweep-every", "", 5*time.Second, "how often expired holds are swept")
	// No default: it depends on the database (see serve).
	fs.define(durationValue{&c.livePoll}, "live-poll", "", "",
		"how often the live map reads new events when nothing announces them (default 25ms on MySQL and on PostgreSQL while its LISTEN connection is down, 2s on SQLite)")
	// PostgreSQL loses no notification while the LISTEN connection stands, and
	// a broken one switches to --live-poll and reads the outbox on its return:
	// this poll only moves the map's reader on while nobody watches.
	fs.Duration(&c.liveListen, "live-listen-poll", "", 30*time.Second,
		"on PostgreSQL, how often the live map reads new events while LISTEN announces them, in case an announcement is lost")
	fs.define(listValue{&c.origins}, "allowed-origins", "PARKD_ALLOWED_ORIGINS", "",
		"comma-separated hosts, besides parkd's own, whose pages may open the live WebSocket")
	fs.define(listValue{&c.proxies}, "trusted-proxies", "PARKD_TRUSTED_PROXIES", "",
		"comma-separated addresses or networks of proxies (nginx) whose X-Forwarded-For names the client, e.g. 127.0.0.1/32,::1/128")
	fs.Duration(&c.shutdownMax, "shutdown-timeout", "", 20*time.Second, "how long in-flight requests get to finish on shutdown")
	fs.String(&c.smtpAddr, "smtp-addr", "PARKD_SMTP_ADDR", "",
		"SMTP server (host:port) that sends notification emails; none sends no email (PARKD_SMTP_USERNAME and PARKD_SMTP_PASSWORD authenticate)")
	fs.String(&c.smtpFrom, "smtp-from", "PARKD_SMTP_FROM", "parkd <noreply@parkd.invalid>", "sender of notification emails")
	fs.String(&c.publicURL, "public-url", "PARKD_PUBLIC_URL", "",
		"where users reach parkd, for links in emails, e.g. https://parking.example.com (default http:// and the listening address)")
	fs.Duration(&c.notifyEvery, "notify-every", "", 2*time.Second, "how often notifications are derived from events and sent")
	fs.Bool(&c.privateHook, "webhooks-allow-private", "PARKD_WEBHOOKS_ALLOW_PRIVATE", false,
		"let operators' webhooks reach loopback and private addresses")
	fs.String(&c.metricsAddr, "metrics-addr", "PARKD_METRICS_ADDR", "127.0.0.1:9464",
		"address to serve Prometheus metrics on at /metrics; \"main\" serves them on --addr, \"off\" nowhere")
	fs.Duration(&c.retention.Every, "retention-every", "PARKD_RETENTION_EVERY", retention.DefaultEvery,
		"how often expired sessions and idempotency keys, old webhook events and old notifications are pruned (once across instances)")
	fs.Duration(&c.retention.KeepWebhookEvents, "keep-webhook-events", "PARKD_KEEP_WEBHOOK_EVENTS", retention.DefaultKeepWebhookEvents,
		"how long payment webhook event ids are kept to drop redeliveries")
	fs.Duration(&c.retention.KeepNotifications, "keep-notifications", "PARKD_KEEP_NOTIFICATIONS", retention.DefaultKeepNotifications,
		"how long sent, failed and skipped notifications (the in-app inbox too) are kept")
	fs.Int(&c.retention.Batch, "retention-batch", "PARKD_RETENTION_BATCH", retention.DefaultBatch, 1,
		"the most rows one retention transaction deletes")
	fs.define(tilesValue{&c.mapTiles}, "map-tiles", "PARKD_MAP_TILES", web.DefaultMapTiles,
		"tile URL template of the home page's map of lots, fetched by the browser ({z}/{x}/{y}; a path on parkd's host, behind a proxy, works too); \"off\" shows no map")
	fs.String(&c.mapCredit, "map-attribution", "PARKD_MAP_ATTRIBUTION", web.DefaultMapAttribution,
		"the tiles' credit shown on the map (HTML)")
}

// parseConfig reads the server's configuration from args and the environment.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := newFlagSet("parkd", getenv)
	var c config
	defineServerFlags(fs, &c)
	rest, err := fs.parse(args, false)
	if err == nil && len(rest) > 0 {
		err = usagef("parkd", "unknown command %q: run 'parkd help' for the list", rest[0])
	}
	return c, err
}

func serveCommand() command {
	return command{name: "serve", summary: "serve the API, the web app, the live map and the metrics (the default)",
		help: "Serves HTTP until SIGINT or SIGTERM, runs the background jobs, and applies pending migrations first.",
		define: func(fs *flagSet, a *app) func(context.Context, []string) error {
			var c config
			defineServerFlags(fs, &c)
			return func(ctx context.Context, _ []string) error { return serve(ctx, c, a) }
		}}
}

// openStore picks the backend from the address's form.
func openStore(ctx context.Context, db string) (parking.Store, string, error) {
	b := backendFor(db)
	s, err := b.open(ctx, b.dsn)
	return s, b.name, err
}

// redactCards hides card numbers in every text a log line holds: parkd logs
// no request body, but an error or a path could still carry what a client
// sent, and a card number must never reach a log.
func redactCards(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value.Resolve(); {
	case v.Kind() == slog.KindString:
		if s := v.String(); parking.FindCardNumber(s) != "" {
			a.Value = slog.StringValue(parking.RedactCardNumbers(s))
		}
	case v.Kind() == slog.KindAny:
		if err, ok := v.Any().(error); ok && parking.FindCardNumber(err.Error()) != "" {
			a.Value = slog.StringValue(parking.RedactCardNumbers(err.Error()))
		}
	}
	return a
}

// serve starts parkd and serves until ctx is cancelled, then shuts down gracefully.
func serve(ctx context.Context, cfg config, a *app) error {
	getenv, stdout := a.getenv, a.stdout
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel, ReplaceAttr: redactCards}))
	clock := parking.SystemClock{}

	proxies, err := httpapi.ParseTrustedProxies(cfg.proxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	backend := backendFor(cfg.db)
	store, err := backend.open(ctx, backend.dsn)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()
	log.Info("database ready", "backend", backend.name)

	version, revision := buildVersion()
	m := metrics.New(clock, metrics.Build{Version: version, Revision: revision})
	// The live map hears of this instance's changes at once, and of other
	// instances' changes at its next poll of the outbox. The metrics count
	// the changes this instance makes. The engine reads lots, their maps and
	// "any spot" candidates from the hub's index (docs/live.md).
	hub := live.NewHub(log, store, clock)
	changes := m.Store(hub.Waking(store))
	engine := booking.New(changes, clock).WithIndex(hub)
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
	lotService := lots.New(changes, engine, pay, clock)
	if !cfg.noDemo {
		seeded, created, err := demo.Seed(ctx, store, authn, clock)
		if err != nil {
			return fmt.Errorf("create demo: %w", err)
		}
		if created {
			log.Info("created the demo lots and accounts: sign in with POST /api/v1/sessions",
				"garage", seeded.Garage.ID, "mall", seeded.Mall.ID,
				"driver", demo.DriverEmail+" / "+demo.DriverPassword,
				"operator", demo.OperatorEmail+" / "+demo.OperatorPassword+" (runs the garage)",
				"entry_kiosk", "/kiosk/"+seeded.EntryGate.ID+" with device key "+demo.EntryGateKey,
				"exit_kiosk", "/kiosk/"+seeded.ExitGate.ID+" with device key "+demo.ExitGateKey)
		}
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	notifier := newNotifier(cfg, getenv, m.Store(store), gates, passKeys, clock, log, ln.Addr())
	m.WatchLive(hub, notifier.Hub())
	m.WatchBacklog(store, notify.CursorName)
	if p, ok := store.(metrics.Pools); ok {
		m.WatchPools(p)
	}
	var handler http.Handler = httpapi.NewHandler(httpapi.Services{Log: log, Engine: engine, Auth: authn, Payments: pay,
		Gates: gates, Lots: lotService, Reports: report.New(changes, engine, clock), Keys: idempotency.New(changes, clock), Clock: clock, Live: hub, AllowedOrigins: cfg.origins, Notify: notifier, Metrics: m, AccessLog: cfg.accessLog,
		StripePublishableKey: getenv("PARKD_STRIPE_PUBLISHABLE_KEY"), Ready: changes.Ping, Unavailable: backend.unavailable,
		TrustedProxies: proxies, MapTiles: cfg.mapTiles, MapAttribution: cfg.mapCredit})
	var metricsSrv *http.Server
	switch cfg.metricsAddr {
	case metricsOff:
	case metricsMain:
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		mux.Handle("/", handler)
		handler = mux
		log.Info("metrics are served on the main address at /metrics: keep them from the public (see docs/operations.md)")
	default:
		mln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		// The metrics address is private (loopback by default), so Go's
		// profiler lives there too: /debug/pprof/profile?seconds=30 and the
		// rest (docs/operations.md). Never on the main address.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: httpapi.ReadHeaderTimeout, WriteTimeout: profileWriteTimeout,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go metricsSrv.Serve(mln)
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: httpapi.ReadHeaderTimeout,
		ReadTimeout:       httpapi.ReadTimeout,
		WriteTimeout:      httpapi.WriteTimeout,
		IdleTimeout:       httpapi.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	background, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	every := func(interval time.Duration, name string, job func(context.Context) error) {
		go jobs.Every(background, interval, log, name, m.Job(name, job))
	}
	// Bookings never wait for these: a lapsed hold or a no-show stops blocking
	// at its deadline. The jobs record and announce what happened, and each
	// transition happens once, also with several instances.
	// The live map follows the outbox; stopping it ends the live streams, so
	// that shutting the server down does not wait for them.
	// On PostgreSQL every commit that writes events is announced (LISTEN),
	// so the hub polls only as a fallback. MySQL announces nothing: the hub
	// polls often. SQLite serves one instance, whose own changes wake the
	// hub: its poll only finds what other processes (the CLI) wrote.
	livePoll := cfg.livePoll
	if livePoll == 0 {
		livePoll = 25 * time.Millisecond
		if backend.name == "sqlite" {
			livePoll = 2 * time.Second
		}
	}
	// The same announcements tell the sweeps and the notifier that something
	// changed: on PostgreSQL they look only after a change, when a deadline
	// they read comes (Upcoming), or after their fallback; elsewhere, or
	// while nothing is announced, at every tick.
	announced := &jobs.Changes{}
	if l, ok := store.(live.Listener); ok {
		go hub.Listen(background, announcing{l, announced}, cfg.liveListen)
	}
	go hub.Run(background, livePoll)
	upcoming, _ := store.(parking.UpcomingStore)
	// quietly runs job, whose work time alone brings at due(upcoming), only
	// when it may have work (jobs.Quiet).
	quietly := func(interval time.Duration, name string, q *jobs.Quiet, job func(context.Context) error, due func(parking.Upcoming) time.Time) {
		if upcoming == nil {
			every(interval, name, job)
			return
		}
		every(interval, name, q.Job(clock.Now, func(ctx context.Context, now time.Time) (time.Time, error) {
			if err := job(ctx); err != nil {
				return time.Time{}, err
			}
			u, err := upcoming.Upcoming(ctx, now, parking.MoveLead)
			return due(u), err
		}))
	}
	quietly(cfg.sweepEvery, "expire_holds", jobs.NewQuiet(announced, jobs.QuietFallback), func(ctx context.Context) error {
		_, err := engine.ExpireHolds(ctx)
		return err
	}, func(u parking.Upcoming) time.Time { return u.HoldExpiry })
	var swept booking.Sweep
	quietly(cfg.sweepEvery, "lifecycle", jobs.NewQuiet(announced, jobs.PolicyFallback), func(ctx context.Context) error {
		sw, err := engine.RunLifecycle(ctx)
		if err != nil {
			return err
		}
		swept = sw
		if len(sw.Cancelled) > 0 {
			// Bookings no spot fitted any more: the lot cancelled them, and
			// their money goes back in full now. The sweep below catches any
			// that an interruption leaves unrefunded.
			_, err = pay.RefundDisplaced(ctx)
		}
		return err
	}, func(u parking.Upcoming) time.Time { return booking.LifecycleDue(u, swept) })
	every(time.Minute, "refund_displaced", func(ctx context.Context) error {
		_, err := pay.RefundDisplaced(ctx)
		return err
	})
	every(time.Minute, "retry_refunds", func(ctx context.Context) error {
		_, err := pay.RetryRefunds(ctx)
		return err
	})
	// Several instances may run both: notifications are stored once (unique
	// keys) and each is claimed by one instance at a time.
	// Notifications come from events, so deriving waits for a change; a run
	// wakes the sender, which otherwise waits for a change or for the next
	// notification due (a reminder, a retry, a lapsed lease).
	deliverQuiet := jobs.NewQuiet(announced, jobs.QuietFallback)
	quietly(cfg.notifyEvery, "derive_notifications", jobs.NewQuiet(announced, jobs.QuietFallback), func(ctx context.Context) error {
		_, err := notifier.Derive(ctx)
		deliverQuiet.Wake()
		return err
	}, func(parking.Upcoming) time.Time { return time.Time{} })
	quietly(cfg.notifyEvery, "send_notifications", deliverQuiet, func(ctx context.Context) error {
		_, err := notifier.Deliver(ctx)
		return err
	}, func(u parking.Upcoming) time.Time { return u.Notification })
	// Each instance looks; one takes each due run.
	pruner := retention.New(m.Store(store), clock, log, cfg.retention)
	every(pruner.Tick(), "retention", func(ctx context.Context) error {
		_, err := pruner.RunIfDue(ctx)
		return err
	})
	if sandbox != nil {
		// The sandbox delivers its webhooks to this very server.
		sandbox.SetWebhookURL("http://" + loopback(ln.Addr()) + "/api/v1/payments/webhook")
		every(time.Second, "sandbox_webhooks", func(ctx context.Context) error {
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
	if metricsSrv != nil {
		metricsSrv.Shutdown(shutdownCtx)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// listValue is a comma-separated list.
type listValue struct{ p *[]string }

func (v listValue) Set(s string) error {
	*v.p = nil
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			*v.p = append(*v.p, o)
		}
	}
	return nil
}
func (v listValue) isBool() bool        { return false }
func (v listValue) placeholder() string { return "HOSTS" }

// tilesValue is a tile URL template that web.CheckMapTiles accepts, or "off"
// (or empty) for no map: an empty variable is an unset one.
type tilesValue struct{ p *string }

func (v tilesValue) Set(s string) error {
	if s == "off" {
		s = ""
	}
	if err := web.CheckMapTiles(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}
func (v tilesValue) isBool() bool        { return false }
func (v tilesValue) placeholder() string { return "URL" }

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
		AllowPrivateWebhooks: cfg.privateHook, Gates: gates,
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

// announcing is a live.Listener that also tells the jobs of every
// announcement, so that one LISTEN connection serves both.
type announcing struct {
	live.Listener
	changes *jobs.Changes
}

func (a announcing) ListenEvents(ctx context.Context, wake func(), state func(error)) error {
	return a.Listener.ListenEvents(ctx, func() {
		a.changes.Changed()
		wake()
	}, func(err error) {
		a.changes.Announced(err == nil)
		state(err)
	})
}
