// Package feedtest is the contract test that every services.Publisher
// passes: a change published inside a transaction reaches the subscribers
// after it commits, never when it rolls back, and whole, however large.
package feedtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/testutil"
	"github.com/authd/authd/services"
)

// Feed is one implementation under test: pub publishes on db, and remote
// is a set that only the implementation fills (another instance's).
type Feed struct {
	DB     *gorm.DB
	Pub    services.Publisher
	Remote *services.Revocations
}

// within is the promise: every instance within a second (SESS-06).
const within = time.Second

// Run runs the contract against the feeds that setup returns, a new one
// for each subtest.
func Run(t *testing.T, setup func(t *testing.T) Feed) {
	ctx := context.Background()

	t.Run("delivered after commit", func(t *testing.T) {
		f := setup(t)
		sid, uid := uuid.New(), uuid.New()
		err := services.Transaction(ctx, f.DB, func(tx *gorm.DB) error {
			if err := f.Pub.Publish(ctx, tx, services.Change{Sessions: []uuid.UUID{sid},
				Roles: []services.RoleChange{{UserID: uid, Role: "user"}}}); err != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond)
			if revoked(t, f.Remote, sid) {
				t.Error("the subscriber saw the change before the transaction committed")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Transaction() = %v", err)
		}
		testutil.WaitFor(t, "the revoked session reaches the subscriber", within, func() bool { return revoked(t, f.Remote, sid) })
		testutil.WaitFor(t, "the role change reaches the subscriber", within, func() bool { return role(t, f.Remote, uid) == "user" })
	})

	t.Run("nothing on rollback", func(t *testing.T) {
		f := setup(t)
		sid, uid := uuid.New(), uuid.New()
		fail := errors.New("the change failed after it was published")
		err := services.Transaction(ctx, f.DB, func(tx *gorm.DB) error {
			if err := f.Pub.Publish(ctx, tx, services.Change{Sessions: []uuid.UUID{sid},
				Roles: []services.RoleChange{{UserID: uid, Role: "user"}}}); err != nil {
				return err
			}
			return fail
		})
		if !errors.Is(err, fail) {
			t.Fatalf("Transaction() = %v, want %v", err, fail)
		}
		// A later change on the same feed arrives: then the rolled-back one
		// would have arrived first.
		later := uuid.New()
		publish(t, f, services.Change{Sessions: []uuid.UUID{later}})
		testutil.WaitFor(t, "the committed change reaches the subscriber", within, func() bool { return revoked(t, f.Remote, later) })
		if revoked(t, f.Remote, sid) || role(t, f.Remote, uid) != "admin" {
			t.Fatal("a change of a rolled-back transaction reached the subscriber")
		}
	})

	t.Run("a large batch arrives whole", func(t *testing.T) {
		f := setup(t)
		// More ids than one PostgreSQL notification (8000 bytes) can carry.
		ids := make([]uuid.UUID, 500)
		for i := range ids {
			ids[i] = uuid.New()
		}
		uid := uuid.New()
		publish(t, f, services.Change{Sessions: ids, Roles: []services.RoleChange{{UserID: uid, Role: "user"}}})
		testutil.WaitFor(t, "every session of the batch reaches the subscriber", within, func() bool {
			for _, id := range ids {
				if !revoked(t, f.Remote, id) {
					return false
				}
			}
			return role(t, f.Remote, uid) == "user"
		})
	})

	t.Run("the last role change holds", func(t *testing.T) {
		f := setup(t)
		uid := uuid.New()
		for _, r := range []string{"user", "admin", "user"} {
			publish(t, f, services.Change{Roles: []services.RoleChange{{UserID: uid, Role: r}}})
		}
		marker := uuid.New()
		publish(t, f, services.Change{Sessions: []uuid.UUID{marker}})
		testutil.WaitFor(t, "the changes reaches the subscriber", within, func() bool { return revoked(t, f.Remote, marker) })
		if got := role(t, f.Remote, uid); got != "user" {
			t.Fatalf("role after user, admin, user = %q, want user", got)
		}
	})
}

// publish publishes c in a transaction of its own, which commits.
func publish(t *testing.T, f Feed, c services.Change) {
	t.Helper()
	ctx := context.Background()
	if err := services.Transaction(ctx, f.DB, func(tx *gorm.DB) error { return f.Pub.Publish(ctx, tx, c) }); err != nil {
		t.Fatalf("Transaction() = %v", err)
	}
}

func revoked(t *testing.T, set *services.Revocations, id uuid.UUID) bool {
	t.Helper()
	ok, err := set.IsRevoked(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// role is the role that an admin access token of user uid has on set now.
func role(t *testing.T, set *services.Revocations, uid uuid.UUID) string {
	t.Helper()
	p, err := set.Current(context.Background(), services.Principal{UserID: uid, SessionID: uuid.New(), Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	return p.Role
}
