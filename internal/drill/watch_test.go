//go:build drill

package drill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// watched is what watch saw.
type watched struct {
	lines      []string // each change, with its time
	maxWaiting int      // the most commits seen waiting for a standby at once
	// noSync names the nodes seen taking writes (not in recovery, not
	// read-only) with synchronous_standby_names empty: their commits
	// returned without a standby. noSyncFrom and noSyncTo are when such a
	// node was first and last seen so.
	noSync               []string
	noSyncFrom, noSyncTo time.Time
}

// watch polls what decides whether a commit may return while a drill runs:
// the monitor's view of each node (reported and goal state), and on every
// node whether it takes writes, its synchronous_standby_names, its
// replication connections and its commits waiting for a standby, until stop
// is closed; the function it answers returns what it saw once the watch has
// ended.
func (c *cluster) watch(origin time.Time, stop <-chan struct{}) func() watched {
	var (
		mu sync.Mutex
		w  watched
		wg sync.WaitGroup
	)
	note := func(what, now string, last *string) {
		if now == *last {
			return
		}
		*last = now
		mu.Lock()
		w.lines = append(w.lines, fmt.Sprintf("%+6.1f s %s: %s", time.Since(origin).Seconds(), what, now))
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var lastMonitor string
		last := map[string]*string{}
		conns := map[string]*pgx.Conn{}
		defer func() {
			for _, conn := range conns {
				conn.Close(context.Background())
			}
		}()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if nodes, err := c.nodeStates(ctx); err == nil {
				note("monitor", nodes, &lastMonitor)
			}
			for _, node := range []string{"node1", "node2", "node3"} {
				if last[node] == nil {
					last[node] = new(string)
				}
				conn := conns[node]
				if conn == nil {
					conn, _ = pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/parkd?sslmode=disable&connect_timeout=1", nodePort(node)))
					if conn == nil {
						note(node, "down", last[node])
						continue
					}
					conns[node] = conn
				}
				var role, names, replicas string
				var waiting int
				err := conn.QueryRow(ctx, `SELECT CASE WHEN pg_is_in_recovery() THEN 'standby'
							WHEN current_setting('default_transaction_read_only') = 'on' THEN 'primary, read-only' ELSE 'primary' END,
						current_setting('synchronous_standby_names'),
						coalesce((SELECT string_agg(application_name || ' ' || state || ' ' || sync_state, ', ' ORDER BY application_name) FROM pg_stat_replication), 'none'),
						(SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep')`).Scan(&role, &names, &replicas, &waiting)
				if err != nil {
					conn.Close(context.Background())
					delete(conns, node)
					note(node, "down", last[node])
					continue
				}
				if role == "standby" {
					note(node, "standby", last[node])
					continue
				}
				note(node, fmt.Sprintf("%s; synchronous_standby_names %q; replicas: %s", role, names, replicas), last[node])
				mu.Lock()
				w.maxWaiting = max(w.maxWaiting, waiting)
				if role == "primary" && names == "" {
					if !slices.Contains(w.noSync, node) {
						w.noSync = append(w.noSync, node)
					}
					if w.noSyncFrom.IsZero() {
						w.noSyncFrom = time.Now()
					}
					w.noSyncTo = time.Now()
				}
				mu.Unlock()
			}
			cancel()
		}
	}()
	return func() watched {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return w
	}
}

// unreplicated answers the lines of node's PostgreSQL log that tell of a
// commit returning without a standby: a wait for the standby cut short (a
// cancel, a terminated backend, a shutdown: the transaction stays committed
// on the primary alone), or synchronous replication turned off. It fails
// the test when there is no log to read.
func (c *cluster) unreplicated(t *testing.T, node string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.dir, "pg", node, "log", "*"))
	files = append(files, filepath.Join(c.dir, "log", node+".log"))
	var out []string
	read := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		read += len(b)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "already committed locally") || strings.Contains(line, "wait for synchronous replication") ||
				strings.Contains(line, `"synchronous_standby_names" changed to ""`) {
				out = append(out, filepath.Base(f)+": "+line)
			}
		}
	}
	if read == 0 {
		t.Errorf("no PostgreSQL log of %s to read in %v", node, files)
	}
	return out
}

// visible says whether what a write acknowledged is in the database now: a
// hold's reservation (by its plate, from its key), or a payment's
// successful charge.
func visible(ctx context.Context, conn *pgx.Conn, a answer) (bool, error) {
	var n int
	var err error
	switch {
	case strings.HasSuffix(a.path, "/payments"):
		parts := strings.Split(a.path, "/")
		err = conn.QueryRow(ctx, `SELECT count(*) FROM payments WHERE reservation_id = $1 AND kind = 'charge' AND status = 'succeeded'`,
			parts[len(parts)-2]).Scan(&n)
	case strings.HasSuffix(a.path, "/reservations") && strings.HasPrefix(a.key, "hold"):
		err = conn.QueryRow(ctx, `SELECT count(*) FROM reservations WHERE plate = $1`, strings.TrimPrefix(a.key, "hold")).Scan(&n)
	default:
		return false, fmt.Errorf("the drill does not know how to find what %s wrote", a.path)
	}
	return n > 0, err
}

// slowLog has node log every statement that takes 2 s or more.
func (c *cluster) slowLog(t *testing.T, node string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), fmt.Sprintf("postgres://postgres@127.0.0.1:%d/parkd?sslmode=disable&connect_timeout=2", nodePort(node)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{`ALTER SYSTEM SET log_min_duration_statement = '2s'`, `SELECT pg_reload_conf()`} {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s on %s: %v", q, node, err)
		}
	}
}

// nodeStates is the monitor's view, one "name reported/goal" per node.
func (c *cluster) nodeStates(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, c.monitorDSN())
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var s string
	err = conn.QueryRow(ctx, `SELECT string_agg(nodename || ' ' || reportedstate || '/' || goalstate, ', ' ORDER BY nodename)
		FROM pgautofailover.node WHERE formationid = 'default'`).Scan(&s)
	return s, err
}

// events answers the monitor's events since origin, one line each with its
// time from origin: how a failover went, step by step.
func (c *cluster) events(ctx context.Context, origin time.Time) ([]string, error) {
	conn, err := pgx.Connect(ctx, c.monitorDSN())
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT eventtime, nodename, reportedstate::text, goalstate::text, description
		FROM pgautofailover.event WHERE eventtime >= $1 ORDER BY eventid`, origin)
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var at time.Time
		var node, reported, goal, description string
		if err := rows.Scan(&at, &node, &reported, &goal, &description); err != nil {
			return nil, err
		}
		if len(description) > 140 {
			description = description[:140] + "..."
		}
		out = append(out, fmt.Sprintf("%+6.1f s %s %s/%s: %s", at.Sub(origin).Seconds(), node, reported, goal, description))
	}
	return out, rows.Err()
}
