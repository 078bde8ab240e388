package services

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/models"
)

// profileTTL bounds how stale a cached profile may be: the same second
// within which a revocation reaches every instance. Nothing in the API
// changes a user's email, role or creation time; a user deleted in the
// database stops being shown within this bound.
const profileTTL = time.Second

// maxProfiles bounds the cache; past it the cache starts again empty.
const maxProfiles = 100_000

// profiles caches what GET /v1/me shows of a user, so that the hottest
// authenticated endpoint does not read the database on every request
// (most of its cost, BENCHMARKS.md "Performance proof"). Password hashes
// are never kept.
type profiles struct {
	mu sync.RWMutex
	m  map[uuid.UUID]cachedProfile
}

type cachedProfile struct {
	user models.User
	at   time.Time
}

// Profile returns the user for display (id, email, role, created_at; no
// password hash), at most one second old. Returns CodeInvalidToken when the
// user does not exist.
func (a *Accounts) Profile(ctx context.Context, id uuid.UUID) (models.User, error) {
	now := a.now()
	a.profiles.mu.RLock()
	e, ok := a.profiles.m[id]
	a.profiles.mu.RUnlock()
	if age := now.Sub(e.at); ok && age >= 0 && age < profileTTL {
		return e.user, nil
	}
	u, err := a.User(ctx, id)
	if err != nil {
		return models.User{}, err
	}
	p := *u
	p.PasswordHash = ""
	a.profiles.mu.Lock()
	if a.profiles.m == nil || len(a.profiles.m) >= maxProfiles {
		a.profiles.m = make(map[uuid.UUID]cachedProfile)
	}
	a.profiles.m[id] = cachedProfile{user: p, at: now}
	a.profiles.mu.Unlock()
	return p, nil
}
