// Package metrics is parkd's Prometheus instrumentation: what one parkd
// process did (requests, bookings, gate decisions, payments, notifications,
// background jobs) and how it is doing (live connections, work its jobs have
// not done yet, database connections). A Metrics value holds its own
// registry and is passed to whatever records; nothing is global.
// docs/operations.md lists every metric.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"parkd/internal/parking"
)

// Metrics records what this process does. The zero of *Metrics, nil, records
// nothing, so code that records may be used without metrics (in tests).
type Metrics struct {
	reg   *prometheus.Registry
	clock parking.Clock

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge

	holds         *prometheus.CounterVec
	reservations  *prometheus.CounterVec
	gate          *prometheus.CounterVec
	payments      *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
	notifications *prometheus.CounterVec
	pruned        *prometheus.CounterVec

	jobRuns     *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	jobsMu      sync.Mutex
	jobs        map[string]*jobState
}

type jobState struct {
	started     time.Time // when the job was registered: its lag before a first success
	lastSuccess time.Time
}

// Build names the running binary, for parkd_build_info.
type Build struct {
	Version  string
	Revision string
}

// New returns metrics with the Go runtime's and the process's collectors and
// every parkd metric registered; clock tells the job lags.
func New(clock parking.Clock, build Build) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), clock: clock, jobs: map[string]*jobState{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_http_requests_total", Help: "HTTP requests answered, by route pattern and status.",
	}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "parkd_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parkd_http_requests_in_flight", Help: "HTTP requests being answered now, live streams included.",
	})
	m.holds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_holds_total",
		Help: "Holds by outcome: created; conflict (the database refused it: the spot was taken); expired (lapsed holds this instance's sweeper released).",
	}, []string{"outcome"})
	m.reservations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_reservation_events_total", Help: "Reservation state changes this instance made, by outbox event type.",
	}, []string{"event"})
	m.gate = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_gate_decisions_total", Help: "Gate decisions logged, by direction, decision (open, deny) and reason.",
	}, []string{"direction", "decision", "reason"})
	m.payments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_payments_total", Help: "Payments by kind (charge, refund), purpose and outcome (created, succeeded, failed).",
	}, []string{"kind", "purpose", "outcome"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_payment_webhooks_total",
		Help: "Payment gateway webhooks by verdict: applied, duplicate, ignored (nothing to do), refused (bad signature or stale), error (to be sent again).",
	}, []string{"verdict"})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_notifications_total", Help: "Notification attempts by channel and outcome (sent, failed, retry, skipped).",
	}, []string{"channel", "outcome"})
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_retention_pruned_total", Help: "Rows deleted by retention, by what they were.",
	}, []string{"target"})
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parkd_job_runs_total", Help: "Background job runs by job and result (ok, error).",
	}, []string{"job", "result"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "parkd_job_duration_seconds", Help: "How long background job runs take.",
		Buckets: []float64{.001, .005, .025, .1, .5, 2.5, 10, 60},
	}, []string{"job"})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parkd_build_info", Help: "Always 1; its labels name the running build.",
		ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Revision},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.inFlight, m.holds, m.reservations, m.gate, m.payments, m.webhooks,
		m.notifications, m.pruned, m.jobRuns, m.jobDuration, buildInfo, jobLag{m})
	// Every series a dashboard shows starts at zero rather than appearing
	// at its first occurrence. Reservation events of other types are
	// counted too, as they occur.
	for _, o := range []string{"created", "conflict", "expired"} {
		m.holds.WithLabelValues(o)
	}
	for _, e := range []string{"held", "confirmed", "cancelled", "expired", "checked_in", "completed", "no_show", "overstaying", "moved", "extended"} {
		m.reservations.WithLabelValues("reservation." + e)
	}
	for _, v := range []string{"applied", "duplicate", "ignored", "refused", "error"} {
		m.webhooks.WithLabelValues(v)
	}
	for _, t := range parking.PruneTargets() {
		m.pruned.WithLabelValues(string(t))
	}
	for _, channel := range []string{parking.ChannelEmail, parking.ChannelInApp, parking.ChannelWebhook} {
		for _, o := range []string{parking.NotificationSent, parking.NotificationFailed, "retry", parking.NotificationSkipped} {
			m.notifications.WithLabelValues(channel, o)
		}
	}
	for _, kind := range []string{parking.Charge, parking.Refund} {
		for _, o := range []string{"created", parking.PaymentSucceeded, parking.PaymentFailed} {
			m.payments.WithLabelValues(kind, parking.PurposeBooking, o)
		}
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil, Timeout: 10 * time.Second})
}

// Registry is where the metrics are registered, for collectors of one's own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Unmatched is the route label of requests no route matched.
const Unmatched = "unmatched"

// RequestStarted counts a request in flight; the returned function, called
// when it is answered, records it under its route pattern (empty: no route
// matched) and status.
func (m *Metrics) RequestStarted() func(route string, status int) {
	if m == nil {
		return func(string, int) {}
	}
	start := time.Now()
	m.inFlight.Inc()
	return func(route string, status int) {
		m.inFlight.Dec()
		if route == "" {
			route = Unmatched
		}
		m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}
}

// ReservationEvent counts n state changes announced by outbox events of type
// event ("reservation.moved", ...). Store wrappers call it for the changes
// they see committed.
func (m *Metrics) ReservationEvent(event string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.reservations.WithLabelValues(event).Add(float64(n))
}

func (m *Metrics) hold(outcome string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.holds.WithLabelValues(outcome).Add(float64(n))
}

// GateDecision counts one gate decision. An operator's own words after the
// reason code ("manual: broken scanner") are left out of the label.
func (m *Metrics) GateDecision(direction parking.Direction, decision, reason string) {
	if m == nil {
		return
	}
	reason, _, _ = strings.Cut(reason, ":")
	m.gate.WithLabelValues(string(direction), decision, reason).Inc()
}

func (m *Metrics) payment(p parking.Payment, outcome string) {
	if m == nil {
		return
	}
	purpose := p.Purpose
	if purpose == "" {
		purpose = parking.PurposeBooking
	}
	m.payments.WithLabelValues(p.Kind, purpose, outcome).Inc()
}

// Webhook counts one payment webhook by its verdict.
func (m *Metrics) Webhook(verdict string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(verdict).Inc()
}

func (m *Metrics) notification(channel, outcome string) {
	if m == nil {
		return
	}
	m.notifications.WithLabelValues(channel, outcome).Inc()
}

// Pruned counts rows retention deleted.
func (m *Metrics) Pruned(target parking.PruneTarget, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.pruned.WithLabelValues(string(target)).Add(float64(n))
}

// Job returns job measured: its runs, their duration, and its lag (the time
// since it last succeeded, or since it was set up when it never did).
func (m *Metrics) Job(name string, job func(context.Context) error) func(context.Context) error {
	if m == nil {
		return job
	}
	m.jobsMu.Lock()
	m.jobs[name] = &jobState{started: m.clock.Now()}
	m.jobsMu.Unlock()
	m.jobRuns.WithLabelValues(name, "ok")
	m.jobRuns.WithLabelValues(name, "error")
	return func(ctx context.Context) error {
		start := time.Now()
		err := job(ctx)
		m.jobDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		if err != nil {
			m.jobRuns.WithLabelValues(name, "error").Inc()
			return err
		}
		m.jobRuns.WithLabelValues(name, "ok").Inc()
		m.jobsMu.Lock()
		m.jobs[name].lastSuccess = m.clock.Now()
		m.jobsMu.Unlock()
		return nil
	}
}

// jobLag reports, at each scrape, how long ago each job last succeeded.
type jobLag struct{ m *Metrics }

var (
	jobLagDesc = prometheus.NewDesc("parkd_job_lag_seconds",
		"Time since the background job last succeeded (since start-up if it never did): how far behind it is.", []string{"job"}, nil)
	jobLastSuccessDesc = prometheus.NewDesc("parkd_job_last_success_timestamp_seconds",
		"When the background job last succeeded, in Unix seconds (0: never).", []string{"job"}, nil)
)

func (j jobLag) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobLagDesc
	ch <- jobLastSuccessDesc
}

func (j jobLag) Collect(ch chan<- prometheus.Metric) {
	now := j.m.clock.Now()
	j.m.jobsMu.Lock()
	defer j.m.jobsMu.Unlock()
	for name, s := range j.m.jobs {
		since, last := s.started, 0.0
		if !s.lastSuccess.IsZero() {
			since, last = s.lastSuccess, float64(s.lastSuccess.UnixNano())/1e9
		}
		ch <- prometheus.MustNewConstMetric(jobLagDesc, prometheus.GaugeValue, max(0, now.Sub(since).Seconds()), name)
		ch <- prometheus.MustNewConstMetric(jobLastSuccessDesc, prometheus.GaugeValue, last, name)
	}
}
