package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"parkd/internal/parking"
)

// LiveMap is the live map's hub as metrics see it (live.Hub).
type LiveMap interface {
	// Watched reports how many lots are loaded and how many subscribers they have.
	Watched() (lots, subscribers int)
	// Dropped is how many subscribers were dropped for falling behind.
	Dropped() int64
}

// Streams counts open live connections of another kind (notify.Hub).
type Streams interface {
	Connections() int
}

// WatchLive reports the live map's and the notification streams' connections
// at each scrape.
func (m *Metrics) WatchLive(lots LiveMap, notifications Streams) {
	m.reg.MustRegister(liveCollector{lots, notifications})
}

var (
	liveSubscribersDesc = prometheus.NewDesc("parkd_live_connections",
		"Open live connections (WebSocket or Server-Sent Events), by stream: lot (the live map) or notifications.", []string{"stream"}, nil)
	liveLotsDesc    = prometheus.NewDesc("parkd_live_lots_watched", "Lots whose live state this instance keeps in memory.", nil, nil)
	liveDroppedDesc = prometheus.NewDesc("parkd_live_dropped_total",
		"Live map subscribers dropped because they fell too far behind (slow clients).", nil, nil)
)

type liveCollector struct {
	lots          LiveMap
	notifications Streams
}

func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- liveSubscribersDesc
	ch <- liveLotsDesc
	ch <- liveDroppedDesc
}

func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	lots, subs := c.lots.Watched()
	ch <- prometheus.MustNewConstMetric(liveSubscribersDesc, prometheus.GaugeValue, float64(subs), "lot")
	if c.notifications != nil {
		ch <- prometheus.MustNewConstMetric(liveSubscribersDesc, prometheus.GaugeValue, float64(c.notifications.Connections()), "notifications")
	}
	ch <- prometheus.MustNewConstMetric(liveLotsDesc, prometheus.GaugeValue, float64(lots))
	ch <- prometheus.MustNewConstMetric(liveDroppedDesc, prometheus.CounterValue, float64(c.lots.Dropped()))
}

// Pools is a store that can describe its connection pools; both backends are.
type Pools interface {
	PoolStats() []parking.PoolStats
}

// WatchPools reports the store's connection pools at each scrape.
func (m *Metrics) WatchPools(p Pools) {
	m.reg.MustRegister(poolCollector{p})
}

var (
	poolConnsDesc = prometheus.NewDesc("parkd_db_connections",
		"Database connections by pool and state (in_use, idle).", []string{"pool", "state"}, nil)
	poolMaxDesc   = prometheus.NewDesc("parkd_db_connections_max", "The most connections the pool opens.", []string{"pool"}, nil)
	poolWaitsDesc = prometheus.NewDesc("parkd_db_connection_waits_total",
		"Times a query waited for a free connection.", []string{"pool"}, nil)
	poolWaitDesc = prometheus.NewDesc("parkd_db_connection_wait_seconds_total",
		"Total time queries waited for a free connection.", []string{"pool"}, nil)
)

type poolCollector struct{ p Pools }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConnsDesc
	ch <- poolMaxDesc
	ch <- poolWaitsDesc
	ch <- poolWaitDesc
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.p.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(s.InUse), s.Name, "in_use")
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(s.Idle), s.Name, "idle")
		ch <- prometheus.MustNewConstMetric(poolMaxDesc, prometheus.GaugeValue, float64(s.Max), s.Name)
		ch <- prometheus.MustNewConstMetric(poolWaitsDesc, prometheus.CounterValue, float64(s.WaitCount), s.Name)
		ch <- prometheus.MustNewConstMetric(poolWaitDesc, prometheus.CounterValue, s.WaitDuration.Seconds(), s.Name)
	}
}

// BacklogStore is what the backlog is read from.
type BacklogStore interface {
	Backlog(ctx context.Context, now time.Time) (parking.Backlog, error)
	LastEventSeq(ctx context.Context) (int64, error)
	NotifyCursor(ctx context.Context, name string) (int64, error)
}

// WatchBacklog reports, at each scrape, the work the background jobs have not
// done yet: lapsed holds, no-shows due, notifications due, and the events the
// notifier (following the cursor named notifyCursor) has not read.
func (m *Metrics) WatchBacklog(s BacklogStore, notifyCursor string) {
	m.reg.MustRegister(&backlogCollector{s: s, cursor: notifyCursor, clock: m.clock})
}

var (
	backlogItemsDesc = prometheus.NewDesc("parkd_backlog_items",
		"Work the background jobs have not done yet, by kind: lapsed_holds, no_shows, notifications (due), events (not yet read by the notifier).",
		[]string{"work"}, nil)
	backlogAgeDesc = prometheus.NewDesc("parkd_backlog_age_seconds",
		"How long the oldest undone item of each kind of work has been due (0: none): how far each sweeper and the notifier are behind.",
		[]string{"work"}, nil)
	backlogErrorDesc = prometheus.NewDesc("parkd_backlog_up",
		"1 when the backlog could be read from the database at this scrape, 0 when not.", nil, nil)
)

type backlogCollector struct {
	s      BacklogStore
	cursor string
	clock  parking.Clock
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogItemsDesc
	ch <- backlogAgeDesc
	ch <- backlogErrorDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	now := c.clock.Now()
	b, err := c.s.Backlog(ctx, now)
	var last, cursor int64
	if err == nil {
		last, err = c.s.LastEventSeq(ctx)
	}
	if err == nil {
		cursor, err = c.s.NotifyCursor(ctx, c.cursor)
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(backlogErrorDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogErrorDesc, prometheus.GaugeValue, 1)
	age := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return max(0, now.Sub(t).Seconds())
	}
	for _, w := range []struct {
		name  string
		items int64
		since time.Time
	}{
		{"lapsed_holds", int64(b.LapsedHolds), b.OldestLapsedHold},
		{"no_shows", int64(b.NoShowsDue), b.OldestNoShowDue},
		{"notifications", int64(b.DueNotifications), b.OldestDueNotification},
		{"events", max(0, last-cursor), time.Time{}},
	} {
		ch <- prometheus.MustNewConstMetric(backlogItemsDesc, prometheus.GaugeValue, float64(w.items), w.name)
		if w.name != "events" {
			ch <- prometheus.MustNewConstMetric(backlogAgeDesc, prometheus.GaugeValue, age(w.since), w.name)
		}
	}
}
