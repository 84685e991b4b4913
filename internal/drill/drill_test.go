//go:build drill

package drill

import (
	"testing"
	"time"
)

// The load of each drill: booking clients, map readers, and how long the
// load runs before and after the failure.
const (
	workers = 6
	readers = 2
	before  = 4 * time.Second
	after   = 12 * time.Second
)

// TestDrills runs the drills one after another on one cluster: starting it
// takes longer than a drill.
func TestDrills(t *testing.T) {
	c := mustCluster(t)
	t.Run("KillParkd", func(t *testing.T) { drillKillParkd(t, c) })
	t.Run("KillPrimary", func(t *testing.T) { drillKillPrimary(t, c) })
	t.Run("StopStandbys", func(t *testing.T) { drillStopStandbys(t, c) })
}

func logBookings(t *testing.T, acked, paid, refused, retried, stuck int) {
	t.Helper()
	t.Logf("bookings: %d acknowledged (%d paid), %d refused, %d needed a retry, %d left with their key in flight (freed after 2 min); all acknowledged present, 0 double bookings, 0 double charges unless reported above",
		acked, paid, refused, retried, stuck)
}

// drillKillParkd kills one parkd instance with SIGKILL under booking and map
// load through nginx: nginx sends its requests to the other two, clients
// retry what was cut with their keys, and nothing is lost.
func drillKillParkd(t *testing.T, c *cluster) {
	l := mustLoad(t, c.nginxURL(), workers)
	stop := make(chan struct{})
	wg := l.run(workers, readers, stop)
	time.Sleep(before)
	killed := time.Now()
	c.killParkd(t, 2)
	time.Sleep(after)
	restart := c.heal(t)
	close(stop)
	wg.Wait()
	f := l.figures(killed)
	acked, paid, refused, retried, stuck := l.mustHold(t, c.dsn())
	t.Logf("kill -9 parkd 2 under load: %d writes, %d map reads; after the kill %d failed answers (%s), the last %s after it; instance back by deploy/cluster up in %.1f s",
		f.writes, f.reads, f.failed, f.kindsText(), since(killed, f.lastFail), restart.Seconds())
	logBookings(t, acked, paid, refused, retried, stuck)
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
	killed := time.Now()
	c.killNode(t, old)
	failover := c.waitPrimary(t, old, killed)
	time.Sleep(after)
	close(stop)
	wg.Wait()
	f := l.figures(killed)
	rejoin := c.heal(t)
	acked, paid, refused, retried, stuck := l.mustHold(t, c.dsn())
	outage := "writes never resumed"
	if !f.firstWriteOK.IsZero() {
		outage = since(killed, f.firstWriteOK)
	}
	t.Logf("kill -9 the primary (%s) under load: new primary after %.1f s; write outage %s (from the kill to the acknowledgement of the first write sent after it); %d failed answers (%s); old primary back as a standby by deploy/cluster up in %.1f s",
		old, failover.Seconds(), outage, f.failed, f.kindsText(), rejoin.Seconds())
	logBookings(t, acked, paid, refused, retried, stuck)
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
	for name := range nodes {
		if name != primary {
			c.stopNode(t, name, nodePort(name))
		}
	}
	stopped := time.Now()
	time.Sleep(after)
	back := time.Now()
	heal := c.heal(t)
	time.Sleep(before)
	close(stop)
	wg.Wait()
	during := l.figures(stopped)
	afterBack := l.figures(back)
	acked, paid, refused, retried, stuck := l.mustHold(t, c.dsn())
	t.Logf("standbys stopped under load: first refusal %s after the stop (%d failed answers: %s); standbys back by deploy/cluster up in %.1f s; first write acknowledged %s after they were started",
		since(stopped, during.firstFail), during.failed, during.kindsText(), heal.Seconds(), since(back, afterBack.firstWriteOK))
	logBookings(t, acked, paid, refused, retried, stuck)
	if during.firstFail.IsZero() {
		t.Error("no write was refused while the standbys were down: strict mode should refuse them")
	}
	if afterBack.firstWriteOK.IsZero() {
		t.Error("no write was acknowledged after the standbys returned")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.answers {
		// A write acknowledged between the stop and the return would be
		// unreplicated: strict mode must not acknowledge it. (A second of
		// grace for answers on their way when the last standby stopped.)
		if a.write && a.ok && a.at.After(stopped.Add(time.Second)) && a.at.Before(back) {
			t.Errorf("%s (sent %.1f s after every standby stopped) was acknowledged %.1f s after", a.path, a.sent.Sub(stopped).Seconds(), a.at.Sub(stopped).Seconds())
			break
		}
	}
}
