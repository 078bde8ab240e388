package services

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// How a change reaches every instance (SESS-06, FI-7).
//
// A transaction that revokes sessions or changes a role records what it
// did (Sessions.revokeTx, Admin.SetRole); just before it commits, the
// service hands the whole batch to the Publisher in one Publish call, inside
// that transaction, so that the batch is delivered when, and only if, the
// transaction commits. Once it has committed, the service applies the batch
// to this instance's Revocations at once; every other instance receives it
// from the Publisher and applies it to its own set (Revocations.Apply).
//
// services knows only this port. The adapters live at the edge and are
// chosen in wiring: PostgreSQL LISTEN/NOTIFY between instances
// (internal/platform/pgfeed) and an in-process one for SQLite and tests
// (internal/platform/memfeed).

// Change is what one transaction tells every instance at once.
type Change struct {
	// Sessions are the sessions it revoked.
	Sessions []uuid.UUID
	// Roles are the role changes it made, in order.
	Roles []RoleChange
}

// RoleChange says that a user's role is now Role: access tokens issued
// before it must carry Role from now on.
type RoleChange struct {
	UserID uuid.UUID
	Role   string
}

// Empty reports whether c carries nothing.
func (c Change) Empty() bool { return len(c.Sessions) == 0 && len(c.Roles) == 0 }

// Publisher carries a Change to every instance.
type Publisher interface {
	// Publish announces c inside tx, the transaction that makes the
	// change, which Transaction started. Subscribers must receive c once
	// tx has committed, and never if it rolls back; a failed Publish fails
	// the transaction, so that no change is made that other instances
	// would not hear of.
	Publish(ctx context.Context, tx *gorm.DB, c Change) error
}

// txState is what a transaction started by Transaction carries in its
// context: the change recorded so far, and what must run after COMMIT.
type txState struct {
	change Change
	after  []func()
}

type txStateKey struct{}

func stateOf(tx *gorm.DB) *txState {
	st, _ := tx.Statement.Context.Value(txStateKey{}).(*txState)
	return st
}

var errNotInTransaction = errors.New("not in a transaction started by services.Transaction")

// Transaction runs fn in one transaction of db, like gorm's Transaction,
// and then, only if it committed, every function that AfterCommit
// registered on its tx, in order.
func Transaction(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	st := &txState{}
	err := db.WithContext(context.WithValue(ctx, txStateKey{}, st)).Transaction(fn)
	if err != nil {
		return err
	}
	for _, f := range st.after {
		f()
	}
	return nil
}

// AfterCommit makes fn run once the transaction of tx has committed, and
// never if it rolls back. tx must come from Transaction: for any other tx
// nobody would run fn, so that is an error.
func AfterCommit(tx *gorm.DB, fn func()) error {
	st := stateOf(tx)
	if st == nil {
		return errNotInTransaction
	}
	st.after = append(st.after, fn)
	return nil
}

// record adds to the change that the transaction of tx publishes before it
// commits (see Sessions.transaction).
func record(tx *gorm.DB, c Change) error {
	st := stateOf(tx)
	if st == nil {
		// A revocation that no instance would hear of must not happen.
		return errNotInTransaction
	}
	st.change.Sessions = append(st.change.Sessions, c.Sessions...)
	st.change.Roles = append(st.change.Roles, c.Roles...)
	return nil
}

// transaction runs fn in one transaction in which revocations and role
// changes may be recorded. What fn recorded is published as one Change,
// the transaction's last statement before COMMIT (one notification per
// revoke-all, not one per session), and applied to this instance's set as
// soon as the transaction has committed.
func (s *Sessions) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return Transaction(ctx, s.db, func(tx *gorm.DB) error {
		if err := fn(tx); err != nil {
			return err
		}
		c := stateOf(tx).change
		if c.Empty() {
			return nil
		}
		if err := s.pub.Publish(ctx, tx, c); err != nil {
			return err
		}
		return AfterCommit(tx, func() {
			if s.revoked != nil {
				s.revoked.Apply(c)
			}
		})
	})
}
