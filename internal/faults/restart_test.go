package faults

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/bench/load"
)

// pgBinDir is where Debian installs PostgreSQL 15's server programs.
const pgBinDir = "/usr/lib/postgresql/15/bin"

// cluster is a PostgreSQL server owned by one test: its own data folder,
// socket folder and port, so restarting it disturbs nobody else.
type cluster struct {
	dir  string
	port int
	// asPostgres runs the server programs as the postgres user when the
	// test runs as root (initdb refuses root).
	asPostgres bool
}

func (c *cluster) cmd(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(pgBinDir, name)
	if c.asPostgres {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func (c *cluster) run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := c.cmd(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// URL is the cluster's postgres database.
func (c *cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *cluster) pgCtl(t *testing.T, args ...string) {
	t.Helper()
	opts := fmt.Sprintf("-k %s -c listen_addresses=127.0.0.1 -p %d -c fsync=off", c.dir, c.port)
	base := []string{"-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "30", "-o", opts}
	c.run(t, "pg_ctl", append(base, args...)...)
}

// startCluster runs initdb into a new folder and starts the server on a
// spare port. It is stopped and removed when the test ends.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBinDir, "initdb")); err != nil {
		t.Skipf("no PostgreSQL server programs in %s: %v", pgBinDir, err)
	}
	dir, err := os.MkdirTemp("", "authd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &cluster{dir: dir, asPostgres: os.Getuid() == 0}
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.run(t, "initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	c.pgCtl(t, "start")
	t.Cleanup(func() {
		_ = c.cmd("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop").Run()
	})
	return c
}

// TestPostgresRestartUnderRefreshLoad (FI-1 with a real restart): a
// test-owned PostgreSQL is restarted (pg_ctl restart -m fast) under
// chained refresh load. Requests during the restart answer 503 unavailable
// quickly; authd recovers by itself; no session is lost or forked.
func TestPostgresRestartUnderRefreshLoad(t *testing.T) {
	t.Parallel() // subprocess tests overlap; the in-process latency tests run alone first
	c := startCluster(t)
	const dbTimeout = 2 * time.Second
	env := map[string]string{"AUTHD_DATABASE_URL": c.URL(), "AUTHD_DB_TIMEOUT": dbTimeout.String()}
	a := startAuthd(t, "a", env)
	b := startAuthd(t, "b", env)
	targets, err := load.NewTargets([]string{a.URL, b.URL})
	if err != nil {
		t.Fatal(err)
	}
	const workers = 8
	tl := &timeline{}
	var res *load.Result
	var runErr error
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, runErr = load.Run(loadCtx, load.Config{Targets: targets, Scenario: load.ScenarioRefresh, Workers: workers,
			Users: 4, Duration: time.Minute, MaxBackoff: 50 * time.Millisecond, Observe: tl.observe})
	}()
	tl.waitOK(t, 50)
	modes := []string{"fast"}
	if long() {
		modes = []string{"fast", "immediate", "fast"}
	}
	var lastUp time.Time
	for _, mode := range modes {
		began := time.Now()
		c.pgCtl(t, "-m", mode, "restart")
		lastUp = time.Now()
		t.Logf("pg_ctl restart -m %s took %s", mode, lastUp.Sub(began))
		time.Sleep(phase(2500*time.Millisecond, 5*time.Second))
	}
	stopLoad()
	<-done
	survivedOutage(t, res, runErr)
	recovered := make(map[int]bool)
	tl.mu.Lock()
	for _, r := range tl.all {
		if r.Latency > dbTimeout+time.Second {
			t.Errorf("a %s request took %s (> db_timeout + 1 s): %s", r.Op, r.Latency, r.Key())
		}
		if r.Status == http.StatusOK && r.at.After(lastUp) && r.at.Before(lastUp.Add(5*time.Second)) {
			recovered[r.worker] = true
		}
	}
	tl.mu.Unlock()
	if len(recovered) != workers {
		t.Errorf("%d of %d clients refreshed again within 5 s of PostgreSQL being back", len(recovered), workers)
	}
	chainsFrom(tl).continueAll(t, b.URL)
	checkInvariants(t, openSQL(t, c.URL()), false)
}
