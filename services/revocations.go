package services

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// Revocations is the in-memory set of sessions revoked within the last
// access-token lifetime. Access tokens are checked against it on every
// request without a database query; an access token cannot outlive its
// lifetime, so older revocations need not be kept.
//
// While the set may be stale (the change feed from other instances is
// disconnected), Fallback is on and IsRevoked asks the database instead:
// fail safe, never silently trust.
type Revocations struct {
	db  *gorm.DB
	ttl time.Duration
	now Clock

	mu  sync.RWMutex
	ids map[uuid.UUID]time.Time // session id → revoked at

	fallback atomic.Bool
	// DBChecks counts the database look-ups made in fallback mode.
	DBChecks atomic.Int64
}

// NewRevocations returns an empty set for tokens that live accessTTL.
func NewRevocations(db *gorm.DB, accessTTL time.Duration, now Clock) *Revocations {
	return &Revocations{db: db, ttl: accessTTL, now: now, ids: make(map[uuid.UUID]time.Time)}
}

// Load replaces the set with the sessions revoked during the last
// access-token lifetime, read from the database.
func (r *Revocations) Load(ctx context.Context) error {
	since := r.now().Add(-r.ttl - time.Minute)
	ids, err := models.RevokedSince(ctx, r.db, since)
	if err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	r.mu.Lock()
	r.ids = ids
	r.mu.Unlock()
	return nil
}

// Add records that session id was revoked at t.
func (r *Revocations) Add(id uuid.UUID, t time.Time) {
	r.mu.Lock()
	r.ids[id] = t
	r.mu.Unlock()
}

// Len returns the number of sessions in the set.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.ids)
}

// SetFallback switches the database check on (the set may be stale) or off.
func (r *Revocations) SetFallback(on bool) { r.fallback.Store(on) }

// Fallback reports whether the database check is on.
func (r *Revocations) Fallback() bool { return r.fallback.Load() }

// IsRevoked reports whether session id was revoked.
func (r *Revocations) IsRevoked(ctx context.Context, id uuid.UUID) (bool, error) {
	r.mu.RLock()
	_, ok := r.ids[id]
	r.mu.RUnlock()
	if ok || !r.fallback.Load() {
		return ok, nil
	}
	r.DBChecks.Add(1)
	s, err := models.FindSessionByID(ctx, r.db, id)
	if err == models.ErrNotFound {
		// A session that no longer exists was deleted by retention after it
		// ended: it is as good as revoked.
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("check session %s: %w", id, err)
	}
	if s.RevokedAt != nil {
		r.Add(id, *s.RevokedAt)
		return true, nil
	}
	return false, nil
}

// Prune drops revocations older than the access-token lifetime.
func (r *Revocations) Prune() {
	cutoff := r.now().Add(-r.ttl - time.Minute)
	r.mu.Lock()
	for id, t := range r.ids {
		if t.Before(cutoff) {
			delete(r.ids, id)
		}
	}
	r.mu.Unlock()
}
