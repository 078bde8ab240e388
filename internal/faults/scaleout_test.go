package faults

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/authd/authd/bench/load"
	"github.com/authd/authd/internal/redistest"
)

// TestScaleOutThreeInstances: three authd processes on one PostgreSQL
// database, chained clients spread round-robin over them (so consecutive
// rotations of one family land on different instances). No client may see
// an unexpected 401 (a lost or forked rotation), no 5xx, and the SQL
// invariants hold; every chain continues afterwards.
func TestScaleOutThreeInstances(t *testing.T) {
	t.Parallel() // subprocess tests overlap; the in-process latency tests run alone first
	db := dbURL(t)
	redisURL, prefix := redistest.Shared(t)
	env := map[string]string{"AUTHD_DATABASE_URL": db, "AUTHD_REDIS_URL": redisURL, "AUTHD_RATE_PREFIX": prefix}
	a := startAuthd(t, "a", env) // migrates first
	b := startAuthd(t, "b", env)
	c := startAuthd(t, "c", env)
	targets, err := load.NewTargets([]string{a.URL, b.URL, c.URL})
	if err != nil {
		t.Fatal(err)
	}
	ch := newChains()
	for _, sc := range []string{load.ScenarioRefresh, load.ScenarioMixed} {
		res, err := load.Run(context.Background(), load.Config{
			Targets: targets, Scenario: sc, Workers: 12, Users: 4,
			Duration: phase(2*time.Second, 20*time.Second), Observe: ch.observe,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s on 3 instances: %.0f ok/s, p99 %.1f ms, %s", sc, res.OKPerSec, res.Latency.P99, prettyStatuses(res.Statuses))
		if res.Unexpected401 != 0 || res.ServerErrors != 0 {
			t.Errorf("%s: %d unexpected 401, %d 5xx", sc, res.Unexpected401, res.ServerErrors)
		}
		statusesOnly(t, res, "200")
		if res.OK == 0 {
			t.Fatalf("%s: nothing succeeded", sc)
		}
	}
	// Every instance served some of it.
	perURL := make(map[string]int)
	for _, r := range ch.all {
		perURL[r.URL]++
	}
	for _, in := range []*Instance{a, b, c} {
		if perURL[in.URL] == 0 {
			t.Errorf("instance %s got no request", in.Name)
		}
	}
	ch.continueAll(t, c.URL)
	// Mixed logins make more sessions per user than the load needs; none
	// may be revoked other than by the session limit.
	checkInvariants(t, openSQL(t, db), true)
	var lost int
	if err := openSQL(t, db).QueryRow(`SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL
		AND revoke_reason <> 'session_limit'`).Scan(&lost); err != nil {
		t.Fatal(err)
	}
	if lost != 0 {
		t.Errorf("%d sessions revoked for another reason than the session limit", lost)
	}
}

// TestScaleOutRevocationReachesAll revokes a session on one instance and
// expects its access token to be refused by all three within 1 s (the
// cross-instance broadcast, PostgreSQL LISTEN/NOTIFY; without it the other
// instances would trust the token until it expires).
func TestScaleOutRevocationReachesAll(t *testing.T) {
	t.Parallel() // subprocess tests overlap; the in-process latency tests run alone first
	db := dbURL(t)
	env := map[string]string{"AUTHD_DATABASE_URL": db}
	ins := []*Instance{startAuthd(t, "a", env), startAuthd(t, "b", env), startAuthd(t, "c", env)}
	cl := &load.Client{HTTP: load.NewHTTPClient(4)}
	ctx := context.Background()
	email := "revoke-" + time.Now().Format("150405.000000") + "@example.com"
	if r := cl.Register(ctx, ins[0].URL, email, load.DefaultPassword); r.Status != http.StatusCreated {
		t.Fatalf("register: %s", r.Key())
	}
	login := cl.Login(ctx, ins[0].URL, email, load.DefaultPassword)
	if login.Status != http.StatusOK {
		t.Fatalf("login: %s", login.Key())
	}
	for _, in := range ins {
		if r := cl.Me(ctx, in.URL, login.Tokens.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("%s /v1/me before revocation: %s", in.Name, r.Key())
		}
	}
	r := cl.Do(ctx, "logout", ins[0].URL, http.MethodPost, "/v1/auth/logout",
		map[string]string{"refresh_token": login.Tokens.RefreshToken}, "")
	if r.Status != http.StatusNoContent {
		t.Fatalf("logout: %s", r.Key())
	}
	revokedAt := time.Now()
	for _, in := range ins {
		for {
			r := cl.Me(ctx, in.URL, login.Tokens.AccessToken)
			if r.Status == http.StatusUnauthorized && r.Code == "session_revoked" {
				break
			}
			if time.Since(revokedAt) > time.Second {
				t.Errorf("%s still answers %s to a token revoked on a %s ago", in.Name, r.Key(), time.Since(revokedAt))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestScaleOutRateLimitIsGlobal: three instances share one Redis, so the
// per-address login limit holds across them: 30 attempts spread
// round-robin get exactly the limit's worth of answers and 429 for the rest,
// not three times the limit.
func TestScaleOutRateLimitIsGlobal(t *testing.T) {
	t.Parallel() // subprocess tests overlap; the in-process latency tests run alone first
	db := dbURL(t)
	// A prefix of this test's own, so no other test shares the counters.
	redisURL, prefix := redistest.Shared(t)
	env := map[string]string{"AUTHD_DATABASE_URL": db, "AUTHD_REDIS_URL": redisURL,
		"AUTHD_RATE_PREFIX": prefix, "AUTHD_RATE_LOGIN_IP": "10-M"}
	ins := []*Instance{startAuthd(t, "a", env), startAuthd(t, "b", env), startAuthd(t, "c", env)}
	cl := &load.Client{HTTP: load.NewHTTPClient(4)}
	ctx := context.Background()
	outcomes := make(map[string]int)
	for i := 0; i < 30; i++ {
		r := cl.Login(ctx, ins[i%3].URL, "nobody-"+strconv.Itoa(i)+"@example.com", "wrong password 123456")
		outcomes[r.Key()]++
		if r.Status == http.StatusTooManyRequests && r.RetryAfter == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	if outcomes["401 invalid_credentials"] != 10 || outcomes["429 rate_limited"] != 20 {
		t.Errorf("30 logins from one address over 3 instances with a limit of 10/min: %v; want 10×401 and 20×429", outcomes)
	}
}
