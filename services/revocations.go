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

// Revocations is the in-memory set of sessions revoked, and of users whose
// role changed, within the last access-token lifetime. Access tokens are
// checked against it on every request without a database query; an access
// token cannot outlive its lifetime, so older entries need not be kept.
//
// While the set may be stale (the change feed from other instances is
// disconnected), Fallback is on and the checks ask the database instead:
// fail safe, never silently trust.
type Revocations struct {
	db  *gorm.DB
	ttl time.Duration
	now Clock

	mu     sync.RWMutex
	ids    map[uuid.UUID]time.Time // session id → revoked at
	roles  map[uuid.UUID]roleEntry // user id → role now
	pruned time.Time

	fallback atomic.Bool
	confirm  atomic.Bool // confirm admin roles in the database
	// DBChecks counts the database look-ups made in fallback mode.
	DBChecks atomic.Int64
}

// NewRevocations returns an empty set for tokens that live accessTTL.
func NewRevocations(db *gorm.DB, accessTTL time.Duration, now Clock) *Revocations {
	return &Revocations{db: db, ttl: accessTTL, now: now, ids: make(map[uuid.UUID]time.Time),
		roles: make(map[uuid.UUID]roleEntry)}
}

// roleEntry is a user's role since a change, and when this instance heard of
// it (for pruning).
type roleEntry struct {
	role string
	at   time.Time
}

// Load replaces the set with the sessions revoked, and the roles changed,
// during the last access-token lifetime, read from the database.
func (r *Revocations) Load(ctx context.Context) error {
	since := r.now().Add(-r.ttl - time.Minute)
	ids, err := models.RevokedSince(ctx, r.db, since)
	if err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	changed, err := models.RolesChangedSince(ctx, r.db, since)
	if err != nil {
		return fmt.Errorf("load role changes: %w", err)
	}
	roles := make(map[uuid.UUID]roleEntry, len(changed))
	for id, c := range changed {
		roles[id] = roleEntry{role: c.Role, at: c.ChangedAt}
	}
	r.mu.Lock()
	r.ids, r.roles = ids, roles
	r.mu.Unlock()
	return nil
}

// Apply adds a change that a transaction committed, on this instance or
// another: its sessions are revoked, and its users have their new role.
func (r *Revocations) Apply(c Change) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	for _, id := range c.Sessions {
		r.ids[id] = now
	}
	// In order: the last change of a user is the one that holds. Changes
	// arrive in commit order (one transaction's, then the next's).
	for _, rc := range c.Roles {
		r.roles[rc.UserID] = roleEntry{role: rc.Role, at: now}
	}
}

// Add records that session id was revoked at t.
func (r *Revocations) Add(id uuid.UUID, t time.Time) {
	r.mu.Lock()
	r.pruneLocked(r.now())
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

// ConfirmAdmins makes Current confirm in the database the role and session
// of every token that would act as admin. It is for a database that
// another process changes without a feed to tell this one (SQLite, where
// the command line changes roles): admin requests are few, and a demoted
// admin must lose the role at once all the same.
func (r *Revocations) ConfirmAdmins(on bool) { r.confirm.Store(on) }

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

// Current returns p as it stands now: with its user's new role when that
// changed within the last access-token lifetime (a token issued before a
// demotion must lose the admin role at once). Returns CodeSessionRevoked
// when p's session was revoked.
//
// A recorded change applies to every token of the user, not only to those
// whose iat is older: the instances' clocks disagree, so comparing a
// change's time with a token's iat could keep a demoted token's role. A
// token issued after the change carries the new role already (it was read
// from the database), so overriding it changes nothing.
func (r *Revocations) Current(ctx context.Context, p Principal) (Principal, error) {
	r.mu.RLock()
	_, revoked := r.ids[p.SessionID]
	changed, hasRole := r.roles[p.UserID]
	r.mu.RUnlock()
	if revoked {
		return Principal{}, errSessionRevoked
	}
	if hasRole {
		p.Role = changed.role
	}
	fallback := r.fallback.Load()
	if !fallback && !(p.IsAdmin() && r.confirm.Load()) {
		return p, nil
	}
	// The set may be stale: ask the database, in one query, for both.
	if fallback {
		r.DBChecks.Add(1)
	}
	acc, err := models.FindSessionAccess(ctx, r.db, p.SessionID)
	if err == models.ErrNotFound {
		// A session that no longer exists was deleted by retention after it
		// ended: it is as good as revoked.
		return Principal{}, errSessionRevoked
	}
	if err != nil {
		return Principal{}, fmt.Errorf("check session %s: %w", p.SessionID, err)
	}
	if acc.RevokedAt != nil {
		r.Add(p.SessionID, *acc.RevokedAt)
		return Principal{}, errSessionRevoked
	}
	p.Role = acc.Role
	return p, nil
}

// pruneEvery is how often a write drops the entries older than the
// access-token lifetime: the set only grows on writes, so pruning there
// bounds it without a background job.
const pruneEvery = time.Minute

// pruneLocked drops the entries older than the access-token lifetime, at
// most every pruneEvery. r.mu must be held for writing.
func (r *Revocations) pruneLocked(now time.Time) {
	if now.Sub(r.pruned) < pruneEvery {
		return
	}
	r.pruned = now
	cutoff := now.Add(-r.ttl - time.Minute)
	for id, t := range r.ids {
		if t.Before(cutoff) {
			delete(r.ids, id)
		}
	}
	for id, e := range r.roles {
		if e.at.Before(cutoff) {
			delete(r.roles, id)
		}
	}
}
