// Package faults holds authd's fault-injection and scale-out tests
// (SECURITY.md §3): real authd subprocesses on one PostgreSQL, chained
// clients from bench/load, faults injected by a TCP proxy, signals or held
// row locks, and SQL invariants checked at the end. By default every test
// runs for a few seconds; AUTHD_BENCH_LONG=1 makes the load phases longer.
package faults

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/authd/authd/bench/load"
	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
)

// authdBin is the authd binary built once for the package.
var authdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authd-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	authdBin = filepath.Join(dir, "authd")
	// Built as the Dockerfile builds it (-tags nomsgpack), so that
	// TestMemory_PeakRSSUnderRefreshLoad measures the binary that ships.
	build := exec.Command("go", "build", "-tags", "nomsgpack", "-o", authdBin, "github.com/authd/authd/cmd/authd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build authd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testdb.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// long reports whether the long loops were asked for.
func long() bool { return os.Getenv("AUTHD_BENCH_LONG") == "1" }

// phase is d, or longD with AUTHD_BENCH_LONG=1.
func phase(d, longD time.Duration) time.Duration {
	if long() {
		return longD
	}
	return d
}

// Instance is a running authd subprocess.
type Instance struct {
	Name string
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit error, set before done closes

	mu   sync.Mutex
	logs []string // every line but the per-request access log
}

// startAuthd runs the binary with apitest.ServeEnv plus env and waits until it
// listens. It is killed when the test ends if still running.
func startAuthd(t *testing.T, name string, env map[string]string) *Instance {
	t.Helper()
	vars := apitest.ServeEnv(env)
	cmd := exec.Command(authdBin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	in := &Instance{Name: name, cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var m struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			_ = json.Unmarshal([]byte(line), &m)
			if m.Msg == "listening" {
				addr <- m.Addr
			}
			if m.Msg != "request" {
				in.mu.Lock()
				in.logs = append(in.logs, line)
				in.mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		in.err = cmd.Wait()
		close(in.done)
	}()
	t.Cleanup(func() {
		select {
		case <-in.done:
		default:
			_ = cmd.Process.Kill()
			<-in.done
		}
	})
	select {
	case a := <-addr:
		in.URL = "http://" + a
	case <-in.done:
		t.Fatalf("%s exited before listening: %v\n%s", name, in.err, in.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30 s\n%s", name, in.Logs())
	}
	return in
}

// Logs returns the non-request log lines so far.
func (in *Instance) Logs() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return strings.Join(in.logs, "\n")
}

// Signal sends sig to the process.
func (in *Instance) Signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := in.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", in.Name, err)
	}
}

// Wait waits up to d for the process to exit and returns its error.
func (in *Instance) Wait(d time.Duration) (exited bool, err error) {
	select {
	case <-in.done:
		return true, in.err
	case <-time.After(d):
		return false, nil
	}
}

// withHost returns dbURL with its host:port replaced by addr.
func withHost(t *testing.T, dbURL, addr string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// pgHost returns the host:port of a postgres URL.
func pgHost(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// openSQL opens a database/sql pool on dbURL for invariant checks.
func openSQL(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkInvariants checks I1 (≤1 live refresh token per session) and that
// no session was revoked except for the reasons allowed (none in a plain
// load: any revocation would be a lost session).
func checkInvariants(t *testing.T, db *sql.DB, allowRevoked bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var forked int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT session_id FROM refresh_tokens
		WHERE rotated_at IS NULL AND revoked_at IS NULL GROUP BY session_id HAVING count(*) > 1) f`).Scan(&forked); err != nil {
		t.Fatalf("I1 query: %v", err)
	}
	if forked != 0 {
		t.Errorf("I1: %d sessions have more than one live refresh token (forked rotation)", forked)
	}
	var orphans int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM refresh_tokens r WHERE rotated_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_id = r.id)`).Scan(&orphans); err != nil {
		t.Fatalf("rotation query: %v", err)
	}
	if orphans != 0 {
		t.Errorf("%d rotated tokens have no child row (a rotation committed half)", orphans)
	}
	if !allowRevoked {
		var revoked int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL`).Scan(&revoked); err != nil {
			t.Fatalf("revoked query: %v", err)
		}
		if revoked != 0 {
			t.Errorf("%d sessions were revoked during a load without any revocation", revoked)
		}
	}
}

// chains follows the refresh token of every worker of a load run.
type chains struct {
	mu   sync.Mutex
	last map[int]string
	// replies by outcome key
	keys map[string]int
	all  []load.Reply
}

func newChains() *chains { return &chains{last: make(map[int]string), keys: make(map[string]int)} }

func (c *chains) observe(w int, tokenIn string, r load.Reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[r.Key()]++
	r.Body = nil
	c.all = append(c.all, r)
	if r.Op != load.ScenarioRefresh {
		return
	}
	if r.Status == 200 {
		c.last[w] = r.Tokens.RefreshToken
	} else if _, ok := c.last[w]; !ok {
		c.last[w] = tokenIn
	}
}

// continueAll checks I2: the last token of every chain (or the token a
// failed request presented) still refreshes, on base.
func (c *chains) continueAll(t *testing.T, base string) {
	t.Helper()
	cl := &load.Client{HTTP: load.NewHTTPClient(4)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.last) == 0 {
		t.Fatal("no chain recorded")
	}
	for w, tok := range c.last {
		var r load.Reply
		for attempt := 0; attempt < 20; attempt++ {
			r = cl.Refresh(context.Background(), base, tok)
			if r.Status != 503 && r.Status != 0 {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if r.Status != 200 {
			t.Errorf("worker %d: its last token no longer refreshes: %s", w, r.Key())
		}
	}
}

// statusesOnly fails t when a reply has an outcome outside allowed.
func statusesOnly(t *testing.T, res *load.Result, allowed ...string) {
	t.Helper()
	ok := make(map[string]bool)
	for _, a := range allowed {
		ok[a] = true
	}
	for k, n := range res.Statuses {
		if !ok[k] {
			t.Errorf("%d replies %q (allowed: %v)", n, k, allowed)
		}
	}
}

// survivedOutage checks a refresh load run through a database outage: it
// ran, its replies were 200 or 503 unavailable only, and no 401 came that
// the chain did not expect.
func survivedOutage(t *testing.T, res *load.Result, runErr error) {
	t.Helper()
	if runErr != nil {
		t.Fatal(runErr)
	}
	t.Logf("statuses: %s", prettyStatuses(res.Statuses))
	statusesOnly(t, res, "200", "503 unavailable")
	if res.Unexpected401 != 0 {
		t.Errorf("%d unexpected 401: a rotation was lost or forked", res.Unexpected401)
	}
}

func prettyStatuses(m map[string]int64) string {
	var b bytes.Buffer
	for k, v := range m {
		fmt.Fprintf(&b, "[%s]=%d ", k, v)
	}
	return b.String()
}

// dbURL gives a test a fresh migrated-on-start schema on the test server.
func dbURL(t *testing.T) string {
	t.Helper()
	return testdb.PostgresURL(t)
}
