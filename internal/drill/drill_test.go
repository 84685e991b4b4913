//go:build drill

package drill

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The load of each drill: booking clients, map readers, and how long the
// load runs before the failure, after a killed part's work was taken over
// (the instance killed, the new primary promoted), and while the standbys
// are down (past parkd's 10 s bound on a commit, so that writes are
// refused).
const (
	workers = 6
	readers = 2
	before  = 4 * time.Second
	settle  = 6 * time.Second
	after   = 12 * time.Second
)

// TestDrills runs the drills one after another on one cluster: starting it
// takes longer than a drill.
func TestDrills(t *testing.T) {
	c := mustCluster(t)
	t.Run("KillParkd", func(t *testing.T) { drillKillParkd(t, c) })
	t.Run("StopStandbys", func(t *testing.T) { drillStopStandbys(t, c) })
	// Last: the old primary's return as a standby (a rewind and a catch-up)
	// would take longer than the drill, and no drill follows that needs it.
	t.Run("KillPrimary", func(t *testing.T) { drillKillPrimary(t, c) })
	for _, line := range figuresLines {
		t.Log("figures: " + line)
	}
}

// figuresLines are the drills' figures, printed again at the end of TestDrills.
var figuresLines []string

func logFigures(t *testing.T, format string, args ...any) {
	t.Helper()
	line := t.Name() + ": " + fmt.Sprintf(format, args...)
	figuresLines = append(figuresLines, line)
	t.Log(line)
}

// drillKillParkd kills one parkd instance with SIGKILL under booking and map
// load through nginx: nginx sends its requests to the other two, clients
// retry what was cut with their keys, and nothing is lost.
func drillKillParkd(t *testing.T, c *cluster) {
	l := mustLoad(t, c.nginxURL(), workers)
	stop := make(chan struct{})
	wg := l.run(workers, readers, stop)
	time.Sleep(before)
	c.killParkd(t, 2)
	killed := time.Now() // once the kill is delivered: what is sent after it cannot reach the instance
	time.Sleep(settle)
	restart := c.heal(t)
	close(stop)
	wg.Wait()
	f := l.figures(killed)
	h := l.mustHold(t, c.dsn())
	recovered := "at once (no failed answer)"
	if !f.lastFail.IsZero() {
		recovered = since(killed, f.lastFail) + " after the kill (its last failed answer)"
	}
	logFigures(t, "kill -9 parkd 2 under load: %d writes, %d map reads; errors seen after the kill: %d (%s); recovered %s; instance back by deploy/cluster up in %.1f s",
		f.writes, f.reads, f.failed, f.kindsText(), recovered, restart.Seconds())
	logFigures(t, "%v", h)
}

// drillKillPrimary kills the PostgreSQL primary's host (pg_autoctl,
// PostgreSQL and its backends at once) under a booking load: the monitor
// promotes a standby, parkd's pools reach it through the multi-host address,
// and every booking acknowledged before, during and after is there.
func drillKillPrimary(t *testing.T, c *cluster) {
	l := mustLoad(t, c.nginxURL(), workers)
	stop := make(chan struct{})
	wg := l.run(workers, readers, stop)
	time.Sleep(before)
	old := c.primary(t)
	endWatch := make(chan struct{})
	origin := time.Now()
	watch := c.watch(origin, endWatch)
	watchLogged := false
	defer func() {
		// A drill that failed half-way still shows what the watch and the
		// monitor saw.
		if !watchLogged {
			close(endWatch)
			for _, line := range watch().lines {
				t.Log(line)
			}
			events, _ := c.events(context.Background(), origin)
			for _, e := range events {
				t.Log("monitor event " + e)
			}
		}
	}()
	c.killNode(t, old)
	// Once the kill is delivered: a write sent after it can only be
	// acknowledged by the new primary.
	killed := time.Now()
	promoted := c.waitPrimary(t, old, killed, "wait_primary", "primary")
	// Writes resume once a standby is in sync with the new primary (strict
	// mode refuses a primary that commits alone).
	synced := c.waitPrimary(t, old, killed, "primary")
	time.Sleep(settle)
	close(endWatch)
	watchLogged = true
	w := watch()
	for _, line := range w.lines {
		t.Log(line)
	}
	if len(w.noSync) > 0 {
		// pg_auto_failover runs a new primary so (wait_primary) until a
		// standby caught up with it; strict mode (parkd_require_sync_standby)
		// must acknowledge nothing meanwhile.
		t.Logf("after the failover %v took writes with synchronous_standby_names empty, seen from %+.1f s to %+.1f s after the kill",
			w.noSync, w.noSyncFrom.Sub(killed).Seconds(), w.noSyncTo.Sub(killed).Seconds())
		l.mu.Lock()
		for _, a := range l.answers {
			if a.write && a.ok && !a.at.Before(w.noSyncFrom) && !a.at.After(w.noSyncTo) {
				t.Errorf("%s was acknowledged %+.1f s after the kill, while the primary committed without a standby", a.path, a.at.Sub(killed).Seconds())
				break
			}
		}
		l.mu.Unlock()
	}
	if events, err := c.events(t.Context(), killed); err != nil {
		t.Logf("the monitor's events: %v", err)
	} else {
		for _, e := range events {
			t.Log("monitor event " + e)
		}
	}
	close(stop)
	wg.Wait()
	f := l.figures(killed)
	h := l.mustHold(t, c.dsn())
	outage := "writes never resumed"
	if !f.firstWriteOK.IsZero() {
		from, to := l.longestWriteGap(killed)
		outage = fmt.Sprintf("%.1f s (no write acknowledged from %s to %s after the kill)", to.Sub(from).Seconds(), since(killed, from), since(killed, to))
	}
	logFigures(t, "kill -9 the primary (%s) under load: new primary after %.1f s, with a standby in sync after %.1f s; write outage %s; %d failed answers (%s)",
		old, promoted.Seconds(), synced.Seconds(), outage, f.failed, f.kindsText())
	logFigures(t, "%v", h)
	if f.firstWriteOK.IsZero() {
		t.Error("no write was acknowledged after the failover")
	}
}

// drillStopStandbys stops every standby (strict mode: a commit needs one):
// writes are refused with 503 within the write bound instead of hanging,
// they resume when the standbys return, and nothing acknowledged is lost.
func drillStopStandbys(t *testing.T, c *cluster) {
	l := mustLoad(t, c.nginxURL(), workers)
	stop := make(chan struct{})
	wg := l.run(workers, readers, stop)
	time.Sleep(before)
	primary := c.primary(t)
	nodes, err := c.nodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	endWatch := make(chan struct{})
	watch := c.watch(begin, endWatch)
	var steps []string
	for name := range nodes {
		if name != primary {
			t0 := time.Now()
			c.stopNode(t, name, nodePort(name))
			steps = append(steps, fmt.Sprintf("%s: pg_autoctl stop at %+.1f s, no longer taking connections at %+.1f s", name, t0.Sub(begin).Seconds(), time.Since(begin).Seconds()))
		}
	}
	stopped := time.Now()
	time.Sleep(after)
	back := time.Now()
	late := l.late(t, c.dsn(), stopped, back, begin)
	heal := c.heal(t)
	time.Sleep(before)
	close(stop)
	wg.Wait()
	close(endWatch)
	w := watch()
	for _, line := range append(steps, w.lines...) {
		t.Log(line)
	}
	during := l.figures(stopped)
	afterBack := l.figures(back)
	h := l.mustHold(t, c.dsn())
	logFigures(t, "standbys stopped under load: first refusal %s after the stop (%d failed answers: %s; at most %d commits waiting for a standby at once); standbys back by deploy/cluster up in %.1f s; first write acknowledged %s after they were started",
		since(stopped, during.firstFail), during.failed, during.kindsText(), w.maxWaiting, heal.Seconds(), since(back, afterBack.firstWriteOK))
	logFigures(t, "%v", h)
	if during.firstFail.IsZero() {
		t.Error("no write was refused while the standbys were down: strict mode should refuse them")
	}
	if afterBack.firstWriteOK.IsZero() {
		t.Error("no write was acknowledged after the standbys returned")
	}
	// Strict mode acknowledges only what a standby confirmed. While no
	// standby is up, a commit cannot return unless its wait is cut short
	// or synchronous replication is turned off: neither may happen.
	for _, node := range w.noSync {
		t.Errorf("%s took writes with synchronous_standby_names empty: its commits returned without a standby", node)
	}
	for _, line := range c.unreplicated(t, primary) {
		t.Errorf("%s's log tells of a commit that returned without a standby: %s", primary, line)
	}
	// So a write answered 2xx while no standby was up is legitimate only if
	// what it wrote had been committed, and so confirmed by a standby,
	// before the last one stopped: its answer was on its way (a payment's
	// answer leaves parkd once its Idempotency-Key's record is written, a
	// commit that waits like any other until the bound cuts it).
	for _, a := range late {
		t.Log(a.text)
		if !a.visible {
			t.Errorf("acknowledged while no standby was up, and not in the database before they returned: %s", a.text)
		}
	}
	logFigures(t, "writes answered 2xx while no standby was up: %d, each committed and confirmed by a standby before the stop", len(late))
}
