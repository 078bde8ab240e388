package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testutil"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// burstWindow is one measured window of TestOutbox_RevocationBurstBesideRefresh.
type burstWindow struct {
	active     bool // the outbox was delivering
	refreshes  int64
	deliveries int
	took       time.Duration
}

func (w burstWindow) rate() float64 { return float64(w.refreshes) / w.took.Seconds() }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sessionRevokedWebhook registers, as an admin, a webhook for
// session_revoked to a test receiver that verifies every delivery.
func sessionRevokedWebhook(t *testing.T, s *apitest.Server) *testutil.WebhookReceiver {
	t.Helper()
	recv := testutil.NewWebhookReceiver(t)
	wh, err := s.App.Webhooks().Create(context.Background(), services.Principal{Fresh: true},
		services.NewWebhook{URL: recv.URL, EventTypes: []string{"session_revoked"}}, services.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	recv.SetSecrets(wh.Secret)
	return recv
}

// A burst of revocations (10,000 with AUTHD_BENCH_LONG=1, 2,000 by
// default) is queued for one webhook endpoint while chained refreshes run
// without pause (4 goroutines, through the service, on PostgreSQL). The
// outbox's queue is paused before the burst commits, so the whole burst
// waits as a backlog, and is then resumed and paused again in alternating
// windows (in the order active, paused, paused, active, … so that a drift
// of the host's speed weighs on both alike). Each window starts after a
// settling time and counts the refreshes and the deliveries within it;
// the measurement stops while the backlog still covers the next active
// window (1.5 times the most one took), so every active window delivered.
// The refresh rate of the active windows is compared with that of the
// paused ones (ratio of the medians; the pooled ratio and the median of
// the adjacent pairs' ratios are logged), and the drain rate is the
// deliveries per second of the active windows. BENCHMARKS.md records the
// figures. The long run, at the default AUTHD_OUTBOX_RATE, asks for the
// issue's ≥ 0.9 (and its drain rate is that bound: the backlog outlasts
// the 40 active windows, and the rest drains after them). The default
// run works the outbox unbounded (AUTHD_OUTBOX_RATE=0) and only guards
// against a collapse (ratio ≥ 0.3, e.g. deliveries starving refreshes of
// connections): at full drain the outbox takes about half of the refresh
// rate on the shared test host, which is why the bound exists.
// AUTHD_OUTBOX_WORKERS and AUTHD_OUTBOX_RATE measure other settings;
// AUTHD_BENCH_PROFILE=dir writes a CPU profile of each window there.
func TestOutbox_RevocationBurstBesideRefresh(t *testing.T) {
	burst, window, settle, maxWindows, minRatio := 2000, 250*time.Millisecond, 250*time.Millisecond, 12, 0.3
	env := map[string]string{"AUTHD_WEBHOOK_ALLOW_PRIVATE": "true", "AUTHD_MAX_SESSIONS": "1000000", "AUTHD_OUTBOX_RATE": "0"}
	if os.Getenv("AUTHD_BENCH_LONG") == "1" {
		// 600 ms to settle: a pause stops River's fetching, but the jobs
		// it fetched still run, and at the default bound up to 20 wait for
		// their tokens (20 / 50 per second = 400 ms).
		burst, window, settle, maxWindows, minRatio = 10000, time.Second, 600*time.Millisecond, 80, 0.9
		delete(env, "AUTHD_OUTBOX_RATE") // the default
	}
	for _, name := range []string{"AUTHD_OUTBOX_WORKERS", "AUTHD_OUTBOX_RATE"} {
		if v := os.Getenv(name); v != "" {
			env[name] = v // to measure another setting
		}
	}
	s := apitest.New(t, apitest.Options{Env: env})
	recv := sessionRevokedWebhook(t, s)
	ctx := context.Background()
	admin := services.Principal{Fresh: true}
	queue := s.App.Outbox().Client()
	pause := func() {
		t.Helper()
		if err := queue.QueuePause(ctx, river.QueueDefault, nil); err != nil {
			t.Fatalf("pause the outbox: %v", err)
		}
	}
	resume := func() {
		t.Helper()
		if err := queue.QueueResume(ctx, river.QueueDefault, nil); err != nil {
			t.Fatalf("resume the outbox: %v", err)
		}
	}

	// The sessions to revoke, ten users' worth.
	users := make([]uuid.UUID, 10)
	meta := services.Meta{IPPrefix: "198.51.100.0/24", UserAgent: "burst"}
	accounts := make([]*models.User, len(users))
	for u := range users {
		user, err := s.App.Accounts().CreateUser(ctx, fmt.Sprintf("burst-%d-%d@example.com", u, time.Now().UnixNano()), apitest.Password, models.RoleUser)
		if err != nil {
			t.Fatal(err)
		}
		users[u], accounts[u] = user.ID, user
	}
	var setup sync.WaitGroup
	for _, user := range accounts {
		setup.Add(1)
		go func() { // one user's logins serialize; the users' do not
			defer setup.Done()
			for range burst / len(users) {
				if _, err := s.App.Sessions().Start(ctx, user, services.StartOptions{}, meta); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	setup.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The refresh load, from now to the end of the measurement.
	var refreshes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		_, tok := s.NewUser(t, fmt.Sprintf("refresher%d", i))
		wg.Add(1)
		go func(token string) {
			defer wg.Done()
			m := services.Meta{IPPrefix: "203.0.113.0/24", UserAgent: "bench"}
			for {
				select {
				case <-stop:
					return
				default:
				}
				pair, err := s.App.Sessions().Refresh(ctx, token, m)
				if err != nil {
					t.Error(err)
					return
				}
				token = pair.RefreshToken
				refreshes.Add(1)
			}
		}(tok.RefreshToken)
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()

	pause()
	start := time.Now()
	for _, u := range users {
		if _, err := s.App.Admin().RevokeUserSessions(ctx, admin, u, meta); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d revocations committed in %s (10 transactions), the outbox paused", burst, time.Since(start).Round(time.Millisecond))
	time.Sleep(settle)
	if n := len(recv.Messages()); n != 0 {
		t.Fatalf("%d deliveries while the outbox was paused", n)
	}

	var windows []burstWindow
	mostPerActive := 0
	for i := 0; i < maxWindows; i++ {
		active := i%4 == 0 || i%4 == 3 // A P P A A P P A …
		delivered := len(recv.Messages())
		if active && 2*(burst-delivered) < 3*max(mostPerActive, burst/20) {
			break // the backlog might not cover this window
		}
		if active {
			resume()
		} else {
			pause()
		}
		time.Sleep(settle)
		stopProfile := profileWindow(t, i, active)
		r0, d0, t0 := refreshes.Load(), len(recv.Messages()), time.Now()
		time.Sleep(window)
		stopProfile()
		w := burstWindow{active: active, refreshes: refreshes.Load() - r0, deliveries: len(recv.Messages()) - d0, took: time.Since(t0)}
		windows = append(windows, w)
		if active {
			mostPerActive = max(mostPerActive, len(recv.Messages())-delivered)
		}
	}
	stopLoad()
	resume()
	recv.WaitFor(t, 5*time.Minute, "the rest of the burst", func() bool { return len(recv.Messages()) >= burst })
	if got := len(recv.Messages()); got != burst {
		t.Fatalf("%d of %d revocations delivered", got, burst)
	}

	// Windows in order, the adjacent active/paused pairs, and the pooled
	// rates. A paused window in which deliveries went on is left out with
	// its pair: River's poll of the queue's state can undo a pause that
	// raced it, until its next poll.
	var activeRates, pausedRates, pairRatios []float64
	var aRef, pRef int64
	var aTime, pTime time.Duration
	deliveries, spoiled := 0, 0
	spoilt := func(w burstWindow) bool { return !w.active && w.deliveries > 0 }
	for i, w := range windows {
		if spoilt(w) || (i%2 == 1 && spoilt(windows[i-1])) || (i%2 == 0 && i+1 < len(windows) && spoilt(windows[i+1])) {
			if spoilt(w) {
				t.Logf("paused window %d saw %d deliveries: left out with its pair", i, w.deliveries)
			}
			spoiled++
			continue
		}
		if w.active {
			if w.deliveries == 0 {
				t.Errorf("active window %d delivered nothing: the backlog ran out", i)
			}
			activeRates = append(activeRates, w.rate())
			aRef, aTime, deliveries = aRef+w.refreshes, aTime+w.took, deliveries+w.deliveries
		} else {
			pausedRates = append(pausedRates, w.rate())
			pRef, pTime = pRef+w.refreshes, pTime+w.took
		}
		if i%2 == 1 {
			a, p := windows[i-1], w
			if p.active {
				a, p = p, a
			}
			pairRatios = append(pairRatios, a.rate()/p.rate())
		}
	}
	if spoiled*5 > len(windows) {
		t.Errorf("%d of %d windows left out: the pauses did not hold", spoiled, len(windows))
	}
	if len(activeRates) < 2 || len(pausedRates) < 2 {
		t.Fatalf("%d active and %d paused windows: too few", len(activeRates), len(pausedRates))
	}
	ratio := median(activeRates) / median(pausedRates)
	pooled := (float64(aRef) / aTime.Seconds()) / (float64(pRef) / pTime.Seconds())
	drain := float64(deliveries) / aTime.Seconds()
	t.Logf("%d active and %d paused windows of %s (after %s to settle): refresh/s median %.0f active vs %.0f paused",
		len(activeRates), len(pausedRates), window, settle, median(activeRates), median(pausedRates))
	t.Logf("active ÷ paused: ratio of medians %.3f, pooled %.3f, median of %d adjacent pairs %.3f (pairs from %.3f to %.3f)",
		ratio, pooled, len(pairRatios), median(pairRatios), minOf(pairRatios), maxOf(pairRatios))
	t.Logf("drain rate while active: %.0f deliveries/s (%d in %s of active windows); all %d delivered",
		drain, deliveries, aTime.Round(time.Millisecond), burst)
	if ratio < minRatio {
		t.Errorf("refresh rate while the outbox delivers is %.3f of the rate while it is paused, want at least %.2f", ratio, minRatio)
	}
	if bad := recv.Bad(); len(bad) > 0 {
		t.Errorf("%d requests failed verification", len(bad))
	}
}

// profileWindow writes a CPU profile of window i to
// $AUTHD_BENCH_PROFILE/{active,paused}-i.pprof when that is set (to see
// where a delivery's cost goes: go tool pprof -diff_base paused-*.pprof
// active-*.pprof); it returns the function that ends it.
func profileWindow(t *testing.T, i int, active bool) func() {
	dir := os.Getenv("AUTHD_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	kind := "paused"
	if active {
		kind = "active"
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%02d.pprof", kind, i)))
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// AUTHD_OUTBOX_RATE bounds the deliveries an instance starts per second:
// 30 revocations at 10/s reach the receiver over about 2.9 s (the first at
// once, then one each 100 ms), where unbounded they all arrive within a
// few hundred milliseconds even on this host.
func TestOutbox_RateBoundsDeliveries(t *testing.T) {
	const n, perSecond = 30, 10
	s := apitest.New(t, apitest.Options{Env: map[string]string{
		"AUTHD_WEBHOOK_ALLOW_PRIVATE": "true", "AUTHD_OUTBOX_RATE": fmt.Sprint(perSecond)}})
	recv := sessionRevokedWebhook(t, s)
	ctx := context.Background()
	admin := services.Principal{Fresh: true}
	user, err := s.App.Accounts().CreateUser(ctx, fmt.Sprintf("rate-%d@example.com", time.Now().UnixNano()), apitest.Password, models.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	meta := services.Meta{IPPrefix: "198.51.100.0/24", UserAgent: "rate"}
	for range n {
		if _, err := s.App.Sessions().Start(ctx, user, services.StartOptions{}, meta); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if _, err := s.App.Admin().RevokeUserSessions(ctx, admin, user.ID, meta); err != nil {
		t.Fatal(err)
	}
	recv.WaitFor(t, time.Minute, "every revocation", func() bool { return len(recv.Messages()) >= n })
	took := time.Since(start)
	t.Logf("%d deliveries at AUTHD_OUTBOX_RATE=%d took %s", n, perSecond, took.Round(time.Millisecond))
	if min := time.Duration(n-1) * time.Second / perSecond * 85 / 100; took < min {
		t.Errorf("%d deliveries took %s, want at least %s at %d/s", n, took, min, perSecond)
	}
	if bad := recv.Bad(); len(bad) > 0 {
		t.Errorf("%d requests failed verification", len(bad))
	}
}
