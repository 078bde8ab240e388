package app_test

import (
	"context"
	"fmt"
	"os"
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
// figures. The long run asks for the issue's ≥ 0.9. The default run only
// guards against a collapse (ratio ≥ 0.3, e.g. deliveries starving
// refreshes of connections): at full drain the outbox takes about 40 % of
// the refresh rate on the shared test host (0.55–0.6), so the 10 % target
// is not what it checks. AUTHD_OUTBOX_WORKERS measures another worker
// count.
func TestOutbox_RevocationBurstBesideRefresh(t *testing.T) {
	burst, window, settle, maxWindows, minRatio := 2000, 250*time.Millisecond, 250*time.Millisecond, 12, 0.3
	if os.Getenv("AUTHD_BENCH_LONG") == "1" {
		burst, window, settle, maxWindows, minRatio = 10000, time.Second, 300*time.Millisecond, 80, 0.9
	}
	env := map[string]string{"AUTHD_WEBHOOK_ALLOW_PRIVATE": "true", "AUTHD_MAX_SESSIONS": "1000000"}
	if w := os.Getenv("AUTHD_OUTBOX_WORKERS"); w != "" {
		env["AUTHD_OUTBOX_WORKERS"] = w // to measure another setting
	}
	s := apitest.New(t, apitest.Options{Env: env})
	recv := testutil.NewWebhookReceiver(t)
	ctx := context.Background()
	admin := services.Principal{Fresh: true}
	wh, err := s.App.Webhooks().Create(ctx, admin, services.NewWebhook{URL: recv.URL, EventTypes: []string{"session_revoked"}}, services.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	recv.SetSecrets(wh.Secret)
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
		r0, d0, t0 := refreshes.Load(), len(recv.Messages()), time.Now()
		time.Sleep(window)
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
