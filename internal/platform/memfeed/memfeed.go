// Package memfeed carries revocations and role changes between the
// services of one process: the services.Publisher of a single SQLite
// instance, and of tests that stand several instances up in one process.
package memfeed

import (
	"context"
	"slices"
	"sync"

	"gorm.io/gorm"

	"github.com/authd/authd/services"
)

// Bus delivers every published change to its subscribers once the
// publishing transaction has committed, and never if it rolls back.
type Bus struct {
	mu   sync.RWMutex
	subs []*services.Revocations
}

// New returns a bus without subscribers. A single instance needs none: its
// services apply their own changes to its set.
func New() *Bus { return &Bus{} }

// Subscribe makes set receive every change published from now on.
func (b *Bus) Subscribe(set *services.Revocations) {
	b.mu.Lock()
	b.subs = append(b.subs, set)
	b.mu.Unlock()
}

// Publish hands c to the subscribers after tx commits
// (services.Publisher). tx must come from services.Transaction, which
// knows when it commits.
func (b *Bus) Publish(_ context.Context, tx *gorm.DB, c services.Change) error {
	c = services.Change{Sessions: slices.Clone(c.Sessions), Roles: slices.Clone(c.Roles)}
	return services.AfterCommit(tx, func() {
		b.mu.RLock()
		defer b.mu.RUnlock()
		for _, s := range b.subs {
			s.Apply(c)
		}
	})
}
