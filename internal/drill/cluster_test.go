//go:build drill

// Package drill holds the failure drills of issue 15: each kills or stops a
// part of the cluster deploy/cluster runs (nginx, three parkd instances,
// PostgreSQL under pg_auto_failover) under a booking load, and checks that
// nothing acknowledged was lost, nothing was booked or charged twice, and
// prints its figures.
//
// They start a cluster of their own (about two minutes), so they build only
// with the "drill" tag, run as root, and fail (never skip) when pg_autoctl or
// nginx is missing:
//
//	go test -tags drill -count=1 -v -timeout 15m ./internal/drill/
//
// .ci/run runs them last (PARKD_DRILL_DIR names the cluster's folder, so
// that it can stop the cluster whatever became of the drills).
package drill

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The drills' cluster takes ports of its own, away from deploy/cluster's
// defaults, so it never meets a cluster someone runs by hand.
const (
	pgPort   = 26430
	httpPort = 19180
)

// cluster is a running deploy/cluster.
type cluster struct {
	dir  string // its state folder
	repo string
}

// mustCluster starts the cluster, or fails the test; the cluster is stopped and removed when the test ends, and
// no process of it may outlive that.
func mustCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the drills run deploy/cluster, which must run as root")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: PostgreSQL runs as the postgres user, who must reach
	// it. CI names the folder (PARKD_DRILL_DIR) so that it can stop the
	// cluster after the drills whatever became of them.
	dir := os.Getenv("PARKD_DRILL_DIR")
	if dir == "" {
		dir = fmt.Sprintf("/tmp/parkd-drill-%d", os.Getpid())
	}
	c := &cluster{dir: dir, repo: repo}
	if _, err := os.Stat(dir); err == nil {
		// A cluster left by an earlier run: the drills start from a new one.
		if out, err := c.run("down", true); err != nil {
			t.Fatalf("deploy/cluster down (the cluster an earlier run left in %s): %v\n%s", dir, err, out)
		}
	}
	t.Cleanup(func() {
		// A failed drill keeps the cluster's logs (and data) to read; CI
		// (PARKD_DRILL_DIR) removes the folder itself, after go test's
		// timeout, which removing three databases on a busy machine
		// otherwise eats into.
		wipe := !t.Failed() && os.Getenv("PARKD_DRILL_DIR") == ""
		if out, err := c.run("down", wipe); err != nil {
			t.Errorf("deploy/cluster down: %v\n%s", err, out)
		}
		if out, err := exec.Command("pgrep", "-af", dir+"/").Output(); err == nil {
			t.Errorf("processes of the cluster outlive deploy/cluster down:\n%s", out)
		}
		if t.Failed() {
			t.Logf("the cluster's logs are in %s/log", dir)
		}
	})
	t0 := time.Now()
	out, err := c.run("up", false)
	if err != nil {
		t.Fatalf("deploy/cluster up: %v\n%s", err, out)
	}
	t.Logf("deploy/cluster up: %.1f s\n%s", time.Since(t0).Seconds(), out)
	return c
}

// run runs deploy/cluster with a command, for this cluster; wipe has down
// remove the state folder.
func (c *cluster) run(command string, wipe bool) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.repo, "deploy/cluster"), command)
	cmd.Env = append(os.Environ(), "PARKD_CLUSTER_DIR="+c.dir, "PARKD_CLUSTER_WIPE="+map[bool]string{true: "1", false: "0"}[wipe],
		"PARKD_CLUSTER_PG_PORT="+strconv.Itoa(pgPort), "PARKD_CLUSTER_PORT="+strconv.Itoa(httpPort))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// heal runs deploy/cluster up again, which starts whatever is not running
// and waits until everything is healthy.
func (c *cluster) heal(t *testing.T) time.Duration {
	t.Helper()
	t0 := time.Now()
	out, err := c.run("up", false)
	if err != nil {
		t.Fatalf("deploy/cluster up (healing): %v\n%s", err, out)
	}
	var steps []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "cluster: ") {
			steps = append(steps, strings.TrimPrefix(line, "cluster: "))
		}
	}
	t.Logf("deploy/cluster up (healing): %s", strings.Join(steps, "; "))
	return time.Since(t0)
}

func (c *cluster) nginxURL() string { return fmt.Sprintf("http://127.0.0.1:%d", httpPort) }

// dsn reaches whichever node takes writes, as parkd does.
func (c *cluster) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/parkd?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		pgPort+1, pgPort+2, pgPort+3)
}

func (c *cluster) monitorDSN() string {
	return fmt.Sprintf("postgres://autoctl_node@127.0.0.1:%d/pg_auto_failover?sslmode=disable", pgPort)
}

// pid reads a pid file of the cluster's (relative to its folder).
func (c *cluster) pid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return pid
}

// killParkd kills instance i (1..3) with SIGKILL.
func (c *cluster) killParkd(t *testing.T, i int) {
	t.Helper()
	if err := syscall.Kill(c.pid(t, fmt.Sprintf("parkd%d.pid", i)), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// killNode plays a lost database host: SIGKILL to the node's whole process
// group, which holds pg_autoctl, PostgreSQL and its backends (deploy/cluster
// starts each node in a session of its own), so nothing restarts it.
func (c *cluster) killNode(t *testing.T, node string) {
	t.Helper()
	if err := syscall.Kill(-c.pid(t, "pg/"+node+".pid"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// stopNode stops a node cleanly, as an operator (or a host shutting down)
// would, and waits until its PostgreSQL no longer takes connections:
// pg_autoctl stop returns before that, and a standby on its way down still
// confirms what it received.
func (c *cluster) stopNode(t *testing.T, node string, port int) {
	t.Helper()
	cmd := exec.Command("runuser", "-u", "postgres", "--", "env",
		"PATH=/usr/lib/postgresql/15/bin:/usr/bin:/bin", "XDG_CONFIG_HOME="+c.dir+"/pg/config",
		"XDG_DATA_HOME="+c.dir+"/pg/share", "XDG_RUNTIME_DIR="+c.dir+"/pg/run",
		"pg_autoctl", "stop", "--pgdata", filepath.Join(c.dir, "pg", node))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_autoctl stop %s: %v\n%s", node, err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return
		}
		conn.Close()
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s still takes connections 60 s after pg_autoctl stop", node)
}

// nodePort is a node's PostgreSQL port (node1 is pgPort+1, and so on).
func nodePort(node string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(node, "node"))
	return pgPort + n
}

// nodes answers the monitor's view: each node's name by its reported state.
func (c *cluster) nodes(ctx context.Context) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, c.monitorDSN())
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT nodename, reportedstate::text FROM pgautofailover.node WHERE formationid = 'default'`)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for rows.Next() {
		var name, state string
		if err := rows.Scan(&name, &state); err != nil {
			return nil, err
		}
		out[name] = state
	}
	return out, rows.Err()
}

// primary is the node the monitor has as primary now.
func (c *cluster) primary(t *testing.T) string {
	t.Helper()
	nodes, err := c.nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name, state := range nodes {
		if state == "primary" || state == "wait_primary" {
			return name
		}
	}
	t.Fatalf("no primary: %v", nodes)
	return ""
}

// waitPrimary waits until a node other than old is in one of states, and
// answers how long that took from since.
func (c *cluster) waitPrimary(t *testing.T, old string, since time.Time, states ...string) time.Duration {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if nodes, err := c.nodes(context.Background()); err == nil {
			for name, state := range nodes {
				if name != old && slices.Contains(states, state) {
					return time.Since(since)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no node took over from %s (state %v) within 90 s", old, states)
	return 0
}
