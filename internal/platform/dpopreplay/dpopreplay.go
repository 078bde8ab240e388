// Package dpopreplay holds the replay caches of DPoP proofs
// (services.ReplayCache): one in process, and one on Redis shared by every
// instance, so that a proof replayed against another instance is refused.
//
// A Redis outage falls back to the in-process cache instead of failing
// closed: every instance then still refuses a proof replayed against
// itself, and only a replay against another instance within the proof
// window (AUTHD_DPOP_MAX_AGE) gets through while Redis is away. Failing
// closed would refuse every refresh and API call of every key-bound client
// for as long as Redis is down. Every proof is recorded in process as well,
// so an instance that falls back already knows the proofs it saw.
package dpopreplay

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Memory is an in-process replay cache.
type Memory struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	now     func() time.Time
	lastGC  time.Time
	maxSize int
}

// NewMemory returns an in-process cache on the clock now.
func NewMemory(now func() time.Time) *Memory {
	return &Memory{seen: make(map[string]time.Time), now: now, maxSize: 1 << 20}
}

// Seen records key until until and reports whether it was recorded and
// unexpired already.
func (m *Memory) Seen(_ context.Context, key string, until time.Time) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.lastGC) > time.Minute || len(m.seen) >= m.maxSize {
		for k, t := range m.seen {
			if !now.Before(t) {
				delete(m.seen, k)
			}
		}
		m.lastGC = now
	}
	if t, ok := m.seen[key]; ok && now.Before(t) {
		return true, nil
	}
	m.seen[key] = until
	return false, nil
}

// Redis is a replay cache on Redis (SET NX with an expiry) that falls back
// to its in-process cache when Redis fails.
type Redis struct {
	client  *redis.Client
	prefix  string
	local   *Memory
	now     func() time.Time
	log     *slog.Logger
	failing atomic.Bool
}

// NewRedis returns a cache on client whose keys start with prefix. The
// client's own timeouts bound every call (ratelimit.Dial).
func NewRedis(client *redis.Client, prefix string, now func() time.Time, log *slog.Logger) *Redis {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Redis{client: client, prefix: prefix, local: NewMemory(now), now: now, log: log}
}

// Seen records key in Redis and in process; a replay seen by either is a
// replay. A Redis failure is logged once per outage and answered in process.
func (r *Redis) Seen(ctx context.Context, key string, until time.Time) (bool, error) {
	local, _ := r.local.Seen(ctx, key, until)
	ttl := until.Sub(r.now())
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	fresh, err := r.client.SetNX(ctx, r.prefix+key, 1, ttl).Result()
	if err != nil {
		if !r.failing.Swap(true) {
			r.log.Warn("dpop replay cache: redis failed, checking proofs in process", slog.String("error", err.Error()))
		}
		return local, nil
	}
	if r.failing.Swap(false) {
		r.log.Info("dpop replay cache: redis answers again")
	}
	return local || !fresh, nil
}
