package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/redistest"
	"github.com/authd/authd/internal/testutil"
	"github.com/authd/authd/metrics"
	"github.com/authd/authd/models"
)

func xff(ip string) []apitest.Header {
	return []apitest.Header{apitest.XFF(ip), {Name: "X-Real-IP", Value: ip}}
}

// details decodes the details of an event (PostgreSQL returns jsonb
// re-formatted, so compare values, not text).
func details(t *testing.T, ev models.SecurityEvent) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(ev.Details), &m); err != nil {
		t.Fatalf("event details %q: %v", ev.Details, err)
	}
	return m
}

func rateLimitedEvents(t *testing.T, s *apitest.Server) []models.SecurityEvent {
	t.Helper()
	evs, err := models.ListSecurityEvents(context.Background(), s.App.DB().DB,
		models.EventFilter{Type: models.EventRateLimited, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// wantLimited fails t unless r is a 429 rate_limited with Retry-After and
// the rate-limit headers.
func wantLimited(t *testing.T, what string, r *apitest.Response) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests || r.Code() != "rate_limited" {
		t.Fatalf("%s = %d %s, want 429 rate_limited", what, r.Status, r.Body)
	}
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("%s: Retry-After = %q, want a positive number of seconds", what, r.Header.Get("Retry-After"))
	}
	if r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("%s: X-RateLimit-Remaining = %q, want 0", what, r.Header.Get("X-RateLimit-Remaining"))
	}
	wantRateHeaders(t, what, r)
}

func wantRateHeaders(t *testing.T, what string, r *apitest.Response) {
	t.Helper()
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if _, err := strconv.ParseInt(r.Header.Get(h), 10, 64); err != nil {
			t.Errorf("%s: %s = %q, want a number", what, h, r.Header.Get(h))
		}
	}
}

// RL-01, F6: an untrusted peer cannot pick its own address with headers.
func TestRateLimits_ForgedForwardedForFromUntrustedPeer(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_RATE_LOGIN_IP": "20-M"}})
	refused := metrics.Logins.WithLabelValues("rate_limited")
	before := promtest.ToFloat64(refused)
	for i := 1; i <= 21; i++ {
		r := s.LoginAttempt(t, "nobody@example.com", "wrong password 123",
			xff(fmt.Sprintf("198.51.%d.%d", i, i))...)
		if i <= 20 {
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("login %d = %d %s, want 401", i, r.Status, r.Body)
			}
			if got, want := r.Header.Get("X-RateLimit-Remaining"), strconv.Itoa(20-i); got != want {
				t.Errorf("login %d: X-RateLimit-Remaining = %q, want %q", i, got, want)
			}
			continue
		}
		wantLimited(t, "login 21 with a fresh X-Forwarded-For", r)
	}
	if got := promtest.ToFloat64(refused) - before; got != 1 {
		t.Errorf("authd_logins_total{result=rate_limited} grew by %v, want 1", got)
	}
	evs := rateLimitedEvents(t, s)
	if len(evs) != 1 || evs[0].IPPrefix != "127.0.0.0/24" || evs[0].Reason != "login_ip" {
		t.Fatalf("rate_limited events = %+v, want one login_ip event for the peer's prefix 127.0.0.0/24", evs)
	}
}

// RL-01: behind a trusted proxy the forwarded address is the client.
func TestRateLimits_TrustedProxyHonoursForwardedFor(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{
		"AUTHD_RATE_LOGIN_IP": "2-M", "AUTHD_TRUSTED_PROXIES": "127.0.0.1/32",
	}})
	for i := 1; i <= 2; i++ {
		if r := s.LoginAttempt(t, "nobody@example.com", "wrong password 123", xff("203.0.113.5")...); r.Status != http.StatusUnauthorized {
			t.Fatalf("login %d from 203.0.113.5 = %d %s, want 401", i, r.Status, r.Body)
		}
	}
	wantLimited(t, "third login from 203.0.113.5", s.LoginAttempt(t, "nobody@example.com", "wrong password 123", xff("203.0.113.5")...))
	if r := s.LoginAttempt(t, "nobody@example.com", "wrong password 123", xff("198.51.100.7")...); r.Status != http.StatusUnauthorized {
		t.Fatalf("login from 198.51.100.7 = %d %s, want 401 from its own bucket", r.Status, r.Body)
	}
	evs := rateLimitedEvents(t, s)
	if len(evs) != 1 || evs[0].IPPrefix != "203.0.113.0/24" {
		t.Fatalf("rate_limited events = %+v, want one with the resolved prefix 203.0.113.0/24", evs)
	}
	if d := evs[0].Details; strings.Contains(d, "203.0.113.5") || details(t, evs[0])["key"] != "ip:203.0.113.0/24" {
		t.Errorf("event details = %s, want the prefix as key and never the full address", d)
	}
}

// alignToSecond waits until just after a second starts, so that a fast
// sequence of requests shares one Unix second (windows and Reset values in
// whole seconds then match).
func alignToSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
}

// RL-03: the per-account limit counts unknown emails and answers the same.
func TestRateLimits_AccountLimitSameForUnknownEmail(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_RATE_LOGIN_ACCOUNT": "5-M"}})
	known := fmt.Sprintf("known-%d@example.com", time.Now().UnixNano())
	s.Register(t, known, apitest.Password)
	unknown := "Unknown-" + known // never registered; mixed case is normalized
	hasher := s.App.Hasher()

	alignToSecond()
	var last [2]*apitest.Response
	for i := 1; i <= 6; i++ {
		if i == 6 {
			// The two refused logins share one Unix second, however long
			// the ten bcrypt logins before them took on a loaded machine.
			alignToSecond()
		}
		runs := hasher.Runs.Load()
		for j, email := range []string{unknown, known} {
			last[j] = s.LoginAttempt(t, email, "wrong password 123")
		}
		if i <= 5 {
			for j := range last {
				if last[j].Status != http.StatusUnauthorized {
					t.Fatalf("attempt %d for account %d = %d %s, want 401", i, j, last[j].Status, last[j].Body)
				}
			}
			continue
		}
		if got := hasher.Runs.Load() - runs; got != 0 {
			t.Errorf("bcrypt ran %d times for two rate-limited logins, want 0 (limits before bcrypt, F8d)", got)
		}
	}
	wantLimited(t, "sixth login for the unknown email", last[0])
	wantLimited(t, "sixth login for the known email", last[1])
	if !bytes.Equal(last[0].Body, last[1].Body) {
		t.Errorf("429 bodies differ:\nunknown %s\nknown   %s", last[0].Body, last[1].Body)
	}
	// Each window starts at its account's first attempt; the known one's
	// starts one bcrypt login later. On a loaded machine that can cross a
	// second, so the reset (whole seconds) may differ by one: no more.
	resetsDiffer := false
	for _, name := range []string{"Retry-After", "X-RateLimit-Reset"} {
		a, errA := strconv.ParseInt(last[0].Header.Get(name), 10, 64)
		b, errB := strconv.ParseInt(last[1].Header.Get(name), 10, 64)
		if errA != nil || errB != nil || a-b > 1 || b-a > 1 {
			t.Errorf("%s: unknown %q, known %q, want equal whole seconds (one apart at most)", name,
				last[0].Header.Get(name), last[1].Header.Get(name))
		}
		resetsDiffer = resetsDiffer || a != b
	}
	if resetsDiffer {
		t.Log("the two windows started in different seconds: Retry-After and the reset were compared to within one second")
	}
	for _, h := range []http.Header{last[0].Header, last[1].Header} {
		h.Del("X-Request-ID")
		h.Del("Date")
		h.Del("Retry-After")
		h.Del("X-RateLimit-Reset")
	}
	if fmt.Sprint(last[0].Header) != fmt.Sprint(last[1].Header) {
		t.Errorf("429 headers differ:\nunknown %v\nknown   %v", last[0].Header, last[1].Header)
	}
	if got := last[0].Header.Get("X-RateLimit-Limit"); got != "5" {
		t.Errorf("X-RateLimit-Limit = %q, want the tighter account limit 5", got)
	}

	evs := rateLimitedEvents(t, s)
	if len(evs) != 2 {
		t.Fatalf("rate_limited events = %+v, want one per account", evs)
	}
	var sawUser, sawHash bool
	for _, ev := range evs {
		if strings.Contains(strings.ToLower(ev.Details), "known-") {
			t.Errorf("event details %s contain the email", ev.Details)
		}
		key := details(t, ev)["key"]
		switch {
		case ev.UserID != nil && key == "user:"+ev.UserID.String():
			sawUser = true
		case ev.UserID == nil && strings.HasPrefix(key, "email:") && len(key) > len("email:"):
			sawHash = true
		}
	}
	if !sawUser || !sawHash {
		t.Errorf("rate_limited events = %+v, want the known account by user id and the unknown one by hash", evs)
	}
}

// AUTH-11: rotating X-Forwarded-For through a trusted proxy does not escape
// the per-account limit, and its longer window bounds the failures even
// while the short one has budget left.
func TestRateLimits_AccountLimitSurvivesRotatingAddresses(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{
		"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32", "AUTHD_RATE_LOGIN_IP": "1-M",
		"AUTHD_RATE_LOGIN_ACCOUNT": "5-S,8-M",
	}})
	email := fmt.Sprintf("victim-%d@example.com", time.Now().UnixNano())
	s.Register(t, email, apitest.Password)
	n := 0
	attempt := func() *apitest.Response {
		n++
		return s.LoginAttempt(t, email, "wrong password 123",
			xff(fmt.Sprintf("192.0.2.%d", n))...)
	}
	for burst := 0; burst < 2; burst++ {
		// Only failures count, so the 5-S window opens at the first wrong
		// password (after its bcrypt work): leave it well behind.
		alignToSecond()
		if burst > 0 {
			time.Sleep(time.Second)
		}
		for i := 0; i < 4; i++ {
			if r := attempt(); r.Status != http.StatusUnauthorized {
				t.Fatalf("attempt %d = %d %s, want 401 (each from a new address)", n, r.Status, r.Body)
			}
		}
	}
	r := attempt()
	wantLimited(t, "ninth wrong password within the minute", r)
	if got := r.Header.Get("X-RateLimit-Limit"); got != "8" {
		t.Errorf("X-RateLimit-Limit = %q, want the spent 8-M rate reported", got)
	}
}

// AUTH-12: throttle, never lock: after the window the owner signs in from
// another address.
func TestRateLimits_AccountLimitEndsWithItsWindow(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{
		"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32", "AUTHD_RATE_LOGIN_ACCOUNT": "3-S",
	}})
	email := fmt.Sprintf("victim-%d@example.com", time.Now().UnixNano())
	s.Register(t, email, apitest.Password)
	alignToSecond()
	var r *apitest.Response
	for i := 0; i < 6; i++ {
		r = s.LoginAttempt(t, email, "wrong password 123", xff("203.0.113.66")...)
	}
	wantLimited(t, "attacker's sixth attempt", r)
	retry, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	time.Sleep(time.Duration(retry) * time.Second)
	s.Login(t, email, apitest.Password, xff("198.51.100.20")...)
}

// RL-02: every limited endpoint reports its budget, and each limit bites.
// Re-authentication has its own per-session budget and spends none of the
// login's.
func TestRateLimits_EachEndpoint(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{
		"AUTHD_RATE_REGISTER_IP": "2-M", "AUTHD_RATE_REFRESH_IP": "2-M", "AUTHD_RATE_LOGIN_IP": "2-M",
		"AUTHD_RATE_REAUTH_SESSION": "2-M",
	}})
	email, tok := s.NewUser(t, "owner") // one register, one login
	cases := []struct {
		name string
		send func() *apitest.Response
	}{
		{"register", func() *apitest.Response {
			return s.Do(t, "POST", "/v1/auth/register", map[string]string{"email": fmt.Sprintf("u%d@example.com", time.Now().UnixNano()), "password": apitest.Password})
		}},
		{"refresh", func() *apitest.Response { return s.Refresh(t, "not-a-token") }},
		{"reauthenticate", func() *apitest.Response {
			return s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": "wrong password 123"}, apitest.Bearer(tok.AccessToken))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r *apitest.Response
			for i := 0; i < 3 && (r == nil || r.Status != http.StatusTooManyRequests); i++ {
				r = tc.send()
				wantRateHeaders(t, tc.name, r)
			}
			wantLimited(t, tc.name+" past its limit", r)
		})
	}
	// NewUser's login spent one unit of the address's login budget; the
	// re-authentications spent none of it.
	if r := s.LoginAttempt(t, email, apitest.Password); r.Status != http.StatusOK {
		t.Fatalf("second login = %d %s, want 200 (re-authentication is not a login)", r.Status, r.Body)
	}
	wantLimited(t, "login past its limit", s.LoginAttempt(t, email, apitest.Password))
}

// RL-06: one event per key and window, and a metric for every refusal.
func TestRateLimits_OneEventPerWindow(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_RATE_REFRESH_IP": "2-M"}})
	counter := metrics.RateLimited.WithLabelValues("refresh")
	before := promtest.ToFloat64(counter)
	limited := 0
	for i := 0; i < 52; i++ {
		if r := s.Refresh(t, "not-a-token"); r.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 50 {
		t.Fatalf("limited refreshes = %d, want 50", limited)
	}
	if got := promtest.ToFloat64(counter) - before; got != 50 {
		t.Errorf("authd_rate_limited_total{endpoint=refresh} grew by %v, want 50", got)
	}
	evs := rateLimitedEvents(t, s)
	if len(evs) != 1 {
		t.Fatalf("rate_limited events = %d, want exactly 1", len(evs))
	}
	if ev, d := evs[0], details(t, evs[0]); ev.Reason != "refresh_ip" || d["endpoint"] != "refresh" ||
		d["rate"] != "2-M" || d["key"] != "ip:127.0.0.0/24" || strings.Contains(ev.Details, "127.0.0.1") {
		t.Errorf("event = %+v, want reason refresh_ip, endpoint and rate in details, no full address", ev)
	}
}

// RL-07: an oversized body is refused before any password work.
func TestRateLimits_LargeLoginBodyRunsNoBcrypt(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	runs := s.App.Hasher().Runs.Load()
	body := `{"email":"a@example.com","password":"` + strings.Repeat("x", 65<<10) + `"}`
	start := time.Now()
	r := s.Do(t, "POST", "/v1/auth/login", body)
	if r.Status != http.StatusRequestEntityTooLarge || r.Code() != "payload_too_large" {
		t.Fatalf("65 KiB login = %d %s, want 413 payload_too_large", r.Status, r.Body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("65 KiB login took %s, want it refused at once", d)
	}
	if got := s.App.Hasher().Runs.Load() - runs; got != 0 {
		t.Errorf("bcrypt ran %d times for an oversized body, want 0", got)
	}
}

// RL-05, F10: a login flood past the bcrypt bound gets 503 overloaded with
// Retry-After, never a 500.
func TestRateLimits_BcryptOverloadIs503(t *testing.T) {
	// The worker runs at the process's priority (AUTHD_BCRYPT_NICE=0): at
	// nice 19 beside a CPU-heavy process it may not be back at its queue
	// within the 50 ms a login may wait, and every login of the flood is a
	// 503, which measures the machine, not the bound. The priority has
	// tests of its own.
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: map[string]string{
		"AUTHD_BCRYPT_COST": "10", "AUTHD_BCRYPT_CONCURRENCY": "1", "AUTHD_BCRYPT_WAIT": "50ms",
		"AUTHD_BCRYPT_NICE": "0",
	}})
	// One login answered first means the worker is up and back at its
	// queue, as it is after every job.
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := s.LoginAttempt(t, "warmup@example.com", "wrong password 123")
		if r.Status == http.StatusUnauthorized {
			break
		}
		if r.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("warm-up login = %d %s, want 401 within 30 s", r.Status, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A flood of 16 on one worker: the first is hashed, those that cannot
	// start within 50 ms are refused. On a loaded machine a round can still
	// miss the worker's return to its queue (every login a 503); such a
	// round is run again, at most three times, with the reason logged.
	for round := 1; ; round++ {
		counts := loginFlood(t, s, round)
		for status, n := range counts {
			if status != http.StatusUnauthorized && status != http.StatusServiceUnavailable {
				t.Fatalf("%d logins answered %d, want only 401 and 503", n, status)
			}
		}
		if counts[http.StatusServiceUnavailable] > 0 && counts[http.StatusUnauthorized] > 0 {
			return
		}
		if round == 3 {
			t.Fatalf("statuses = %v in the last of 3 rounds, want some 401 and some 503 overloaded", counts)
		}
		t.Logf("round %d: statuses %v, not both 401 and 503 (the worker was not back at its queue in time); again", round, counts)
	}
}

// loginFlood sends 16 wrong-password logins to s at once and counts their
// statuses; every 503 must be overloaded with Retry-After.
func loginFlood(t *testing.T, s *apitest.Server, round int) map[int]int {
	t.Helper()
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.LoginAttempt(t, fmt.Sprintf("flood%d-%d@example.com", round, i), "wrong password 123")
			if r.Status == http.StatusServiceUnavailable {
				if r.Code() != "overloaded" || r.Header.Get("Retry-After") == "" {
					t.Errorf("503 = %s with Retry-After %q, want overloaded with Retry-After", r.Body, r.Header.Get("Retry-After"))
				}
			}
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

// FI-4 (short form): two instances share one limit through Redis; a dead or
// hung Redis leaves per-instance limits, no 500 and low latency; a Redis
// that comes back is used again.
func TestRateLimits_SharedRedisAndOutage(t *testing.T) {
	redis := redistest.Start(t)
	prefix := fmt.Sprintf("authd-test-%d", time.Now().UnixNano())
	env := map[string]string{
		"AUTHD_REDIS_URL": redis.URL(), "AUTHD_RATE_PREFIX": prefix, "AUTHD_RATE_LOGIN_IP": "6-M",
	}
	// A hung Redis without the store timeout holds a login until the
	// SIGCONT (or go-redis's own 3 s read timeout); with it a login costs
	// the store timeout (1 s here, the longest allowed, so that a loaded
	// machine does not fall back to local counts in the shared phases) and
	// a moment. Only the logins while Redis hangs are timed: they are
	// refused before any bcrypt, whereas a 401 login's bcrypt on a busy
	// machine can take seconds.
	const storeTimeout, hangFor = time.Second, 10 * time.Second
	env["AUTHD_RATE_STORE_TIMEOUT"] = storeTimeout.String()
	a := apitest.New(t, apitest.Options{Env: env})
	b := apitest.New(t, apitest.Options{Env: env, DatabaseURL: a.DatabaseURL})
	var hung atomic.Bool
	login := func(s *apitest.Server) *apitest.Response {
		t.Helper()
		start := time.Now()
		r := s.LoginAttempt(t, "nobody@example.com", "wrong password 123")
		if r.Status >= 500 {
			t.Fatalf("login = %d %s, want no 5xx from rate limiting", r.Status, r.Body)
		}
		if d := time.Since(start); hung.Load() && d > storeTimeout+1500*time.Millisecond {
			t.Errorf("login took %s with Redis hung for %s, want the limiter bounded by its store timeout (%s)", d, hangFor, storeTimeout)
		}
		return r
	}
	// until sends logins to s until one is limited and returns how many
	// were let through.
	until := func(s *apitest.Server, max int) int {
		t.Helper()
		for i := 0; i < max; i++ {
			if login(s).Status == http.StatusTooManyRequests {
				return i
			}
		}
		t.Fatalf("no 429 within %d logins", max)
		return max
	}
	globalLimit := func(phase string) {
		t.Helper()
		for i := 0; i < 3; i++ {
			if r := login(a); r.Status != http.StatusUnauthorized {
				t.Fatalf("%s: login %d on A = %d, want 401", phase, i, r.Status)
			}
			if r := login(b); r.Status != http.StatusUnauthorized {
				t.Fatalf("%s: login %d on B = %d, want 401", phase, i, r.Status)
			}
		}
		wantLimited(t, phase+": seventh login across both instances", login(a))
		wantLimited(t, phase+": eighth login across both instances", login(b))
		if keys := redis.Keys(prefix + ":*"); len(keys) == 0 {
			t.Fatalf("%s: no keys under %s in Redis", phase, prefix)
		}
	}
	globalLimit("shared Redis")

	redis.Kill()
	// Each instance counted its own four logins locally as well, so it has
	// two left of the per-instance budget and then refuses: limits hold.
	if got := until(a, 10); got > 6 {
		t.Errorf("A let %d logins through with Redis dead, want at most the per-instance limit", got)
	}
	if got := until(b, 10); got > 6 {
		t.Errorf("B let %d logins through with Redis dead, want at most the per-instance limit", got)
	}
	if !a.App.RateLimitStore().Degraded() || !b.App.RateLimitStore().Degraded() {
		t.Fatal("instances do not report the fallback with Redis dead")
	}

	redis.Restart()
	testutil.WaitFor(t, "both instances use Redis again", 5*time.Second, func() bool {
		return !a.App.RateLimitStore().Degraded() && !b.App.RateLimitStore().Degraded()
	})
	globalLimit("restarted Redis")

	redis.Stop()
	hung.Store(true)
	resume := time.AfterFunc(hangFor, redis.Continue)
	for _, s := range []*apitest.Server{a, b} {
		wantLimited(t, "login with Redis hung (the local counts are spent)", login(s))
	}
	hung.Store(false)
	if resume.Stop() {
		redis.Continue()
	}
	testutil.WaitFor(t, "both instances use Redis again after SIGCONT", 5*time.Second, func() bool {
		return !a.App.RateLimitStore().Degraded() && !b.App.RateLimitStore().Degraded()
	})
	wantLimited(t, "login after SIGCONT (Redis kept its counter)", login(a))
}
