package ratelimit_test

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/ulule/limiter/v3"

	"github.com/authd/authd/internal/platform/ratelimit"
	"github.com/authd/authd/internal/redistest"
	"github.com/authd/authd/internal/testutil"
	"github.com/authd/authd/metrics"
)

const (
	downLine = "Redis does not answer"
	upLine   = "Redis answers again"
)

func newStore(t *testing.T, url, prefix string, logs *testutil.SyncBuffer) *ratelimit.Store {
	t.Helper()
	var client ratelimit.Client
	if url != "" {
		c, err := ratelimit.Dial(url, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		client = c
	}
	s := ratelimit.New(client, ratelimit.Options{Prefix: prefix, Timeout: 50 * time.Millisecond,
		ProbeInterval: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(s.Close)
	return s
}

// hit counts one request for key and fails t when the store took longer
// than a bounded limiter call may.
func hit(t *testing.T, s *ratelimit.Store, key string, rate limiter.Rate) limiter.Context {
	t.Helper()
	start := time.Now()
	lc, err := s.Get(t.Context(), key, rate)
	if err != nil {
		t.Fatalf("Get(%s) error = %v, want the store never to fail", key, err)
	}
	// The store's timeout is 50 ms; without it a hung Redis holds a call
	// for go-redis's 3 s read timeout. 1.5 s tells the two apart even on
	// a machine so loaded that scheduling alone takes hundreds of ms.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("Get(%s) took %s, want at most the store timeout plus slack", key, d)
	}
	return lc
}

func TestStore_RedisOutage(t *testing.T) {
	redis := redistest.Start(t)
	prefix := fmt.Sprintf("test:%d", time.Now().UnixNano())
	logs := &testutil.SyncBuffer{}
	s := newStore(t, redis.URL(), prefix, logs)
	rate := limiter.Rate{Formatted: "5-M", Limit: 5, Period: time.Minute}

	for i := 1; i <= 3; i++ {
		if lc := hit(t, s, "k", rate); lc.Reached || lc.Remaining != int64(5-i) {
			t.Fatalf("hit %d = %+v, want remaining %d", i, lc, 5-i)
		}
	}
	if keys := redis.Keys(prefix + ":*"); len(keys) != 1 {
		t.Fatalf("Redis keys under %s = %v, want the one counter", prefix, keys)
	}

	t.Run("dead Redis falls back with the instance's own count", func(t *testing.T) {
		before := promtest.ToFloat64(metrics.RateLimitFallback)
		redis.Kill()
		// The in-process store counted the three hits too: the fallback
		// goes on from there and does not hand out a fresh budget.
		if lc := hit(t, s, "k", rate); lc.Reached || lc.Remaining != 1 {
			t.Fatalf("first hit without Redis = %+v, want remaining 1 from the local count", lc)
		}
		if !s.Degraded() {
			t.Fatal("Degraded() = false after Redis died")
		}
		hit(t, s, "k", rate)
		if lc := hit(t, s, "k", rate); !lc.Reached {
			t.Fatalf("sixth hit without Redis = %+v, want the limit to hold per instance", lc)
		}
		if got := promtest.ToFloat64(metrics.RateLimitFallback) - before; got < 3 {
			t.Errorf("authd_ratelimit_store_fallback_total grew by %v, want at least 3", got)
		}
		if got := logs.Count(downLine); got != 1 {
			t.Errorf("log lines %q = %d, want exactly one per state change", downLine, got)
		}
	})

	t.Run("restarted Redis is used again", func(t *testing.T) {
		redis.Restart()
		testutil.WaitFor(t, "the store uses Redis again", 5*time.Second, func() bool { return !s.Degraded() })
		if got := logs.Count(upLine); got != 1 {
			t.Errorf("log lines %q = %d, want 1", upLine, got)
		}
		// The restarted Redis lost its data (no persistence): counting
		// starts again there, and the counter is visible in it.
		if lc := hit(t, s, "k", rate); lc.Reached || lc.Remaining != 4 {
			t.Fatalf("hit after restart = %+v, want a fresh Redis counter (remaining 4)", lc)
		}
		if keys := redis.Keys(prefix + ":*"); len(keys) != 1 {
			t.Fatalf("Redis keys after restart = %v, want the counter back in Redis", keys)
		}
	})

	t.Run("hung Redis falls back within the timeout", func(t *testing.T) {
		redis.Stop()
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hit(t, s, "k", rate)
			}()
		}
		wg.Wait()
		if !s.Degraded() {
			t.Fatal("Degraded() = false while Redis is stopped")
		}
		if lc := hit(t, s, "k", rate); !lc.Reached {
			t.Fatalf("hit while Redis hangs = %+v, want the local limit to hold", lc)
		}
		if got := logs.Count(downLine); got != 2 {
			t.Errorf("log lines %q = %d, want 2 (one per outage)", downLine, got)
		}
		redis.Continue()
		testutil.WaitFor(t, "the store uses Redis again after SIGCONT", 5*time.Second, func() bool { return !s.Degraded() })
		// Redis kept its counter through the hang: one hit (from the
		// restart subtest) plus whatever of the eight reached it before
		// the timeout, plus this one.
		lc := hit(t, s, "k", rate)
		if lc.Remaining > 3 {
			t.Fatalf("hit after SIGCONT = %+v, want the Redis counter kept through the hang", lc)
		}
	})
}

func TestStore_RedisDownAtStart(t *testing.T) {
	redis := redistest.Start(t)
	redis.Kill()
	logs := &testutil.SyncBuffer{}
	s := newStore(t, redis.URL(), fmt.Sprintf("test:%d", time.Now().UnixNano()), logs)
	if !s.Degraded() {
		t.Fatal("Degraded() = false with Redis down at start")
	}
	rate := limiter.Rate{Formatted: "2-M", Limit: 2, Period: time.Minute}
	hit(t, s, "k", rate)
	hit(t, s, "k", rate)
	if lc := hit(t, s, "k", rate); !lc.Reached {
		t.Fatalf("third hit = %+v, want the in-process limit (never none)", lc)
	}
	redis.Restart()
	testutil.WaitFor(t, "the store loads its scripts into the late Redis", 5*time.Second, func() bool { return !s.Degraded() })
	if lc := hit(t, s, "k", rate); lc.Reached || lc.Remaining != 1 {
		t.Fatalf("hit once Redis is up = %+v, want the Redis counter", lc)
	}
}

func TestStore_WithoutRedis(t *testing.T) {
	s := newStore(t, "", "", &testutil.SyncBuffer{})
	rate := limiter.Rate{Formatted: "1-S", Limit: 1, Period: time.Second}
	if lc := hit(t, s, "k", rate); lc.Reached {
		t.Fatalf("first hit = %+v, want allowed", lc)
	}
	if lc := hit(t, s, "k", rate); !lc.Reached {
		t.Fatalf("second hit = %+v, want limited", lc)
	}
	if s.Degraded() {
		t.Error("Degraded() = true without Redis configured; the in-process store is the plan, not a fallback")
	}
}

// The failures-only budgets look with Peek and count with Increment: both
// go to Redis, so two stores on one Redis (two instances) share the count,
// and a Peek creates nothing.
func TestStore_PeekAndIncrementOnRedis(t *testing.T) {
	redis := redistest.Start(t)
	prefix := fmt.Sprintf("test:%d", time.Now().UnixNano())
	a := newStore(t, redis.URL(), prefix, &testutil.SyncBuffer{})
	b := newStore(t, redis.URL(), prefix, &testutil.SyncBuffer{})
	rate := limiter.Rate{Formatted: "2-15M", Limit: 2, Period: 15 * time.Minute}
	lc, err := a.Peek(t.Context(), "k", rate)
	if err != nil || lc.Remaining != 2 {
		t.Fatalf("Peek() of a new key = %+v, %v, want remaining 2", lc, err)
	}
	if keys := redis.Keys(prefix + ":*"); len(keys) != 0 {
		t.Fatalf("Redis keys after a Peek = %v, want none", keys)
	}
	if _, err := a.Increment(t.Context(), "k", 1, rate); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Increment(t.Context(), "k", 1, rate); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*ratelimit.Store{"A": a, "B": b} {
		lc, err := s.Peek(t.Context(), "k", rate)
		if err != nil || lc.Remaining != 0 || lc.Reset-time.Now().Unix() < int64(14*60) {
			t.Errorf("Peek() on %s after one failure on each = %+v, %v; want remaining 0 for the 15-minute window", name, lc, err)
		}
	}
	if a.Degraded() || b.Degraded() {
		t.Error("a store fell back with Redis up")
	}
}
