package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authd/authd/bench/load"
	"github.com/authd/authd/internal/faultproxy"
	"github.com/authd/authd/internal/testutil"
)

// timed is a reply with the time it completed and its worker.
type timed struct {
	load.Reply
	worker int
	at     time.Time
}

type timeline struct {
	mu  sync.Mutex
	all []timed
	ok  int
}

func (tl *timeline) observe(w int, _ string, r load.Reply) {
	r.Body = nil
	tl.mu.Lock()
	tl.all = append(tl.all, timed{Reply: r, worker: w, at: time.Now()})
	if r.Status == http.StatusOK {
		tl.ok++
	}
	tl.mu.Unlock()
}

func (tl *timeline) waitOK(t *testing.T, n int) {
	t.Helper()
	testutil.WaitFor(t, fmt.Sprintf("the load gets %d successful replies", n), 60*time.Second, func() bool {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		return tl.ok >= n
	})
}

// TestPostgresOutageUnderRefreshLoad (FI-1 with a TCP proxy): two instances
// reach PostgreSQL through a proxy that cuts every connection and refuses
// new ones for a while. During the outage every request answers quickly
// with 503 unavailable and Retry-After (never 500, never a hang), /readyz
// is 503 and /healthz 200; afterwards every client refreshes again without
// restarting authd, retrying the same token it had, and no session is lost
// or forked.
func TestPostgresOutageUnderRefreshLoad(t *testing.T) {
	t.Parallel() // subprocess tests overlap; the in-process latency tests run alone first
	db := dbURL(t)
	proxy := faultproxy.Start(t, pgHost(t, db))
	const dbTimeout = 2 * time.Second
	env := map[string]string{"AUTHD_DATABASE_URL": proxy.URL(t, db), "AUTHD_DB_TIMEOUT": dbTimeout.String()}
	a := startAuthd(t, "a", env)
	b := startAuthd(t, "b", env)
	targets, err := load.NewTargets([]string{a.URL, b.URL})
	if err != nil {
		t.Fatal(err)
	}
	outage := phase(1500*time.Millisecond, 8*time.Second)
	after := phase(2500*time.Millisecond, 10*time.Second)
	tl := &timeline{}
	var res *load.Result
	var runErr error
	done := make(chan struct{})
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	go func() {
		defer close(done)
		res, runErr = load.Run(loadCtx, load.Config{Targets: targets, Scenario: load.ScenarioRefresh,
			Workers: 10, Users: 5, Duration: phase(10*time.Second, 40*time.Second), MaxBackoff: 50 * time.Millisecond,
			Observe: tl.observe})
	}()
	tl.waitOK(t, 50)

	cutAt := time.Now()
	proxy.Refuse(true)
	proxy.Cut()
	time.Sleep(outage / 2)
	cl := &load.Client{HTTP: load.NewHTTPClient(2)}
	for _, in := range []*Instance{a, b} {
		if r := cl.Do(context.Background(), "readyz", in.URL, http.MethodGet, "/readyz", nil, ""); r.Status != http.StatusServiceUnavailable {
			t.Errorf("%s /readyz during the outage = %s, want 503", in.Name, r.Key())
		}
		if r := cl.Do(context.Background(), "healthz", in.URL, http.MethodGet, "/healthz", nil, ""); r.Status != http.StatusOK {
			t.Errorf("%s /healthz during the outage = %s, want 200", in.Name, r.Key())
		}
	}
	time.Sleep(outage - time.Since(cutAt))
	resumeAt := time.Now()
	proxy.Refuse(false)
	time.Sleep(after)
	endAt := time.Now()
	// Stop the load: its duration is only a bound. A request cut by the
	// cancellation is not recorded; its client retries its last token below.
	stopLoad()
	tl.mu.Lock()
	t.Logf("cut for %s, %d replies so far", resumeAt.Sub(cutAt), len(tl.all))
	tl.mu.Unlock()
	<-done
	survivedOutage(t, res, runErr)

	var during503, slow int
	recovered := make(map[int]bool)
	for _, r := range tl.all {
		if r.Status == http.StatusServiceUnavailable {
			during503++
			if r.RetryAfter == "" {
				t.Errorf("503 without Retry-After")
			}
		}
		if r.Latency > dbTimeout+time.Second {
			slow++
		}
		if r.Status == http.StatusOK && r.at.After(resumeAt) && r.at.Before(resumeAt.Add(5*time.Second)) {
			recovered[r.worker] = true
		}
	}
	if during503 == 0 {
		t.Error("no 503 at all: the outage was not injected")
	}
	if slow != 0 {
		t.Errorf("%d requests took longer than db_timeout + 1 s (%s)", slow, dbTimeout+time.Second)
	}
	if len(recovered) != 10 {
		t.Errorf("%d of 10 clients refreshed again within 5 s of PostgreSQL coming back (in %s)", len(recovered), endAt.Sub(resumeAt))
	}
	ch := chainsFrom(tl)
	ch.continueAll(t, a.URL)
	checkInvariants(t, openSQL(t, db), false)
}

// chainsFrom rebuilds the last token of each worker from a timeline.
func chainsFrom(tl *timeline) *chains {
	ch := newChains()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, r := range tl.all {
		if r.Op == load.ScenarioRefresh && r.Status == http.StatusOK {
			ch.last[r.worker] = r.Tokens.RefreshToken
		}
	}
	return ch
}

// TestSIGTERMUnderLoad (FI-5): SIGTERM while chained refreshes and slow
// bcrypt logins are in flight. /readyz turns 503 at once, the logins in
// flight complete with 200, new connections are refused once the drain
// delay is over, the process exits 0, and every chain continues on a fresh
// instance: no request the server accepted lost its answer (the rotations
// in the database are exactly the ones clients received).
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel() // subprocess tests overlap; the in-process latency tests run alone first
	db := dbURL(t)
	// Three slow logins on two bcrypt workers: the third queues; it may
	// queue as long as the drain lasts. The workers run at the process's
	// priority (AUTHD_BCRYPT_NICE=0): at nice 19, beside a CPU-heavy
	// process (stress-ng), one cost-10 hash took seconds and the set-up's
	// registrations ran past the request timeout (503 unavailable), which
	// says nothing about the drain this test is about.
	env := map[string]string{"AUTHD_DATABASE_URL": db, "AUTHD_BCRYPT_COST": "10", "AUTHD_BCRYPT_NICE": "0",
		"AUTHD_DRAIN_DELAY": "500ms", "AUTHD_SHUTDOWN_TIMEOUT": "10s", "AUTHD_BCRYPT_WAIT": "10s"}
	a := startAuthd(t, "a", env)
	targets, err := load.NewTargets([]string{a.URL})
	if err != nil {
		t.Fatal(err)
	}
	cl := &load.Client{HTTP: load.NewHTTPClient(8)}
	ctx := context.Background()
	// Accounts for the slow logins, registered before the load.
	emails := []string{"slow-1@example.com", "slow-2@example.com", "slow-3@example.com"}
	for _, e := range emails {
		if r := cl.Register(ctx, a.URL, e, load.DefaultPassword); r.Status != http.StatusCreated {
			t.Fatalf("register: %s", r.Key())
		}
	}
	tl := &timeline{}
	var res *load.Result
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, runErr = load.Run(ctx, load.Config{Targets: targets, Scenario: load.ScenarioRefresh, Workers: 8, Users: 4,
			Duration: phase(3*time.Second, 15*time.Second), MaxBackoff: 50 * time.Millisecond, Observe: tl.observe})
	}()
	tl.waitOK(t, 50)

	logins := make(chan load.Reply, len(emails))
	for _, e := range emails {
		go func(e string) { logins <- cl.Login(ctx, a.URL, e, load.DefaultPassword) }(e)
	}
	time.Sleep(30 * time.Millisecond) // the logins are on the wire, hashing or queued for the hasher
	sigAt := time.Now()
	a.Signal(t, syscall.SIGTERM)
	time.Sleep(50 * time.Millisecond)
	if r := cl.Do(ctx, "readyz", a.URL, http.MethodGet, "/readyz", nil, ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz right after SIGTERM = %s, want 503", r.Key())
	}
	for range emails {
		if r := <-logins; r.Status != http.StatusOK {
			t.Errorf("a login in flight at SIGTERM got %s, want 200 (%s after the signal)", r.Key(), time.Since(sigAt))
		}
	}
	exited, exitErr := a.Wait(15 * time.Second)
	if !exited {
		t.Fatalf("authd did not exit within 15 s of SIGTERM\n%s", a.Logs())
	}
	if exitErr != nil {
		t.Errorf("authd exited with %v, want status 0\n%s", exitErr, a.Logs())
	}
	t.Logf("exited %s after SIGTERM", time.Since(sigAt))
	<-done
	if runErr != nil {
		t.Fatal(runErr)
	}
	t.Logf("statuses: %s", prettyStatuses(res.Statuses))
	// After the listener closed, new connections are refused; a keep-alive
	// connection closed while idle can also end a request that the server
	// never read (EOF). Nothing else is allowed.
	statusesOnly(t, res, "200", "503 unavailable", "transport: connection refused", "transport: EOF",
		"transport: server closed idle connection", "transport: connection reset")
	if res.Unexpected401 != 0 || res.ServerErrors != 0 {
		t.Errorf("%d unexpected 401, %d 5xx", res.Unexpected401, res.ServerErrors)
	}

	// Every rotation committed in the database reached its client: no
	// request that the server accepted lost its answer.
	sqlDB := openSQL(t, db)
	var rotations int
	if err := sqlDB.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE parent_id IS NOT NULL`).Scan(&rotations); err != nil {
		t.Fatal(err)
	}
	children := make(map[string]bool)
	tl.mu.Lock()
	for _, r := range tl.all {
		if r.Op == load.ScenarioRefresh && r.Status == http.StatusOK {
			children[r.Tokens.RefreshToken] = true
		}
	}
	tl.mu.Unlock()
	if rotations != len(children) {
		t.Errorf("%d rotations committed but clients received %d distinct children: an accepted request lost its answer", rotations, len(children))
	}
	// Every chain continues on a fresh instance on the same database.
	fresh := startAuthd(t, "fresh", env)
	chainsFrom(tl).continueAll(t, fresh.URL)
	checkInvariants(t, sqlDB, false)
}
