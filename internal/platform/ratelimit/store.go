// Package ratelimit holds the store behind authd's rate limits: ulule/limiter's
// Redis store when AUTHD_REDIS_URL is set, so a limit holds across every
// instance, with an in-process store that takes over whenever Redis does not
// answer in time.
//
// The fallback is deliberate (SECURITY.md F7, ASVS 5.0 16.5.2 and 16.5.3):
// a Redis outage must neither disable the limits (fail open) nor turn them
// into 500s (ulule's gin middleware panics on a store error). While Redis is
// away each instance enforces the configured rates on its own, so with N
// instances the effective limit is at most N times the configured one.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/authd/authd/metrics"
)

// Defaults of Options.
const (
	DefaultPrefix        = "authd:limiter"
	DefaultTimeout       = 75 * time.Millisecond
	DefaultProbeInterval = 500 * time.Millisecond
)

// Client is what the store needs from a Redis client (*redis.Client or a
// cluster client).
type Client interface {
	redisstore.Client
	Ping(ctx context.Context) *redis.StatusCmd
}

// Options configure a Store.
type Options struct {
	// Prefix starts every key (DefaultPrefix when empty).
	Prefix string
	// Timeout bounds each Redis call (DefaultTimeout when zero). A hung Redis
	// is worse than a dead one: without a bound every request would wait.
	Timeout time.Duration
	// ProbeInterval is how often a degraded store asks Redis whether it is
	// back (DefaultProbeInterval when zero).
	ProbeInterval time.Duration
	// Log receives one line per state change (nil: discarded).
	Log *slog.Logger
}

// Store is a limiter.Store on Redis with an in-process fallback. It never
// returns an error: when Redis fails or is slower than the timeout, the
// in-process store answers, and a background probe switches back once Redis
// answers again.
//
// Every call also counts in the in-process store, so that on a switch to the
// fallback each instance already knows its own recent traffic and does not
// hand out a fresh budget.
type Store struct {
	local   limiter.Store
	client  Client
	prefix  string
	timeout time.Duration
	probe   time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	remote limiter.Store // nil until the scripts are loaded into Redis

	degraded atomic.Bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New returns a Store. With a nil client it is the in-process store alone
// (one instance, or limits per instance by choice). With a client that does
// not answer at start, it starts degraded rather than refusing to serve.
func New(client Client, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		local: memory.NewStoreWithOptions(limiter.StoreOptions{
			Prefix: opts.Prefix, CleanUpInterval: limiter.DefaultCleanUpInterval,
		}),
		client: client, prefix: opts.Prefix, timeout: opts.Timeout, probe: opts.ProbeInterval, log: opts.Log,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if client != nil {
		if _, err := s.remoteStore(); err != nil {
			s.fallBack(err)
		}
	}
	return s
}

// Dial returns a Redis client for url whose every network step is bounded
// by timeout, with no retries (a retry would multiply the wait).
func Dial(url string, timeout time.Duration) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("AUTHD_REDIS_URL: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = timeout
	opt.ReadTimeout = timeout
	opt.WriteTimeout = timeout
	opt.PoolTimeout = timeout
	opt.MaxRetries = -1
	// The limiter needs nothing of RESP3, and a plain handshake is one round
	// trip fewer on a fresh connection.
	opt.Protocol = 2
	opt.DisableIdentity = true
	return redis.NewClient(opt), nil
}

// Degraded reports whether the store is answering from the in-process
// fallback because Redis did not.
func (s *Store) Degraded() bool { return s.degraded.Load() }

// Close stops the background probe. It does not close the client.
func (s *Store) Close() {
	s.cancel()
	s.wg.Wait()
}

// Get increments the counter of key and returns its state.
func (s *Store) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(ctx, func(ctx context.Context, st limiter.Store) (limiter.Context, error) {
		return st.Get(ctx, key, rate)
	})
}

// Peek returns the state of key without counting.
func (s *Store) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(ctx, func(ctx context.Context, st limiter.Store) (limiter.Context, error) {
		return st.Peek(ctx, key, rate)
	})
}

// Reset sets the counter of key to zero.
func (s *Store) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(ctx, func(ctx context.Context, st limiter.Store) (limiter.Context, error) {
		return st.Reset(ctx, key, rate)
	})
}

// Increment adds count to the counter of key and returns its state.
func (s *Store) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	return s.do(ctx, func(ctx context.Context, st limiter.Store) (limiter.Context, error) {
		return st.Increment(ctx, key, count, rate)
	})
}

func (s *Store) do(ctx context.Context, op func(context.Context, limiter.Store) (limiter.Context, error)) (limiter.Context, error) {
	local, err := op(ctx, s.local)
	if err != nil {
		// The memory store does not fail; should it ever, the caller
		// decides (it must not fail open).
		return local, err
	}
	if s.client == nil {
		return local, nil
	}
	if s.degraded.Load() {
		metrics.RateLimitFallback.Inc()
		return local, nil
	}
	remote, err := s.remoteStore()
	if err == nil {
		callCtx, cancel := context.WithTimeout(ctx, s.timeout)
		var lc limiter.Context
		lc, err = op(callCtx, remote)
		cancel()
		if err == nil {
			return lc, nil
		}
	}
	if ctx.Err() != nil {
		// The client went away: not Redis's fault.
		return local, nil
	}
	s.fallBack(err)
	metrics.RateLimitFallback.Inc()
	return local, nil
}

// remoteStore returns ulule's Redis store, creating it (which loads its Lua
// scripts into Redis) on first use.
func (s *Store) remoteStore() (limiter.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remote != nil {
		return s.remote, nil
	}
	st, err := redisstore.NewStoreWithOptions(s.client, limiter.StoreOptions{Prefix: s.prefix})
	if err != nil {
		return nil, err
	}
	s.remote = st
	return st, nil
}

// fallBack switches to the in-process store, once per outage, and starts
// probing Redis.
func (s *Store) fallBack(cause error) {
	if !s.degraded.CompareAndSwap(false, true) {
		return
	}
	metrics.RateLimitDegraded.Set(1)
	s.log.Warn("rate-limit store: Redis does not answer; limits now hold per instance (in-process store) until it does",
		slog.String("error", errorText(cause)))
	s.wg.Add(1)
	go s.probeUntilBack()
}

func (s *Store) probeUntilBack() {
	defer s.wg.Done()
	t := time.NewTicker(s.probe)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if s.answers() {
			s.degraded.Store(false)
			metrics.RateLimitDegraded.Set(0)
			s.log.Info("rate-limit store: Redis answers again; limits hold across instances")
			return
		}
	}
}

// answers reports whether Redis responds within the timeout and has the
// limiter's scripts.
func (s *Store) answers() bool {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return false
	}
	_, err := s.remoteStore()
	return err == nil
}

func errorText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}
