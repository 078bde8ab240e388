package services_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/platform/pgfeed"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/internal/testutil"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

type fixture struct {
	db       *models.DB
	set      *services.Revocations
	pub      *testPublisher
	sessions *services.Sessions
	accounts *services.Accounts
	user     *models.User
}

// testPublisher passes every change to publish, when set.
type testPublisher struct {
	publish func(ctx context.Context, tx *gorm.DB, c services.Change) error
}

func (p *testPublisher) Publish(ctx context.Context, tx *gorm.DB, c services.Change) error {
	if p.publish == nil {
		return nil
	}
	return p.publish(ctx, tx, c)
}

func newFixture(t *testing.T, db *models.DB) *fixture {
	t.Helper()
	clock := services.SystemClock
	set := services.NewRevocations(db.DB, 15*time.Minute, clock)
	tokens, err := services.NewTokens(services.TokenConfig{Secret: []byte("test-secret-0123456789abcdef-0123456789"),
		Issuer: "authd", Audience: "authd", AccessTTL: 15 * time.Minute}, set, clock)
	testdb.Must(t, err)
	hasher, err := services.NewHasher(4, 2, time.Second, 19)
	testdb.Must(t, err)
	events := services.NewEvents(clock)
	pub := &testPublisher{}
	ses := services.NewSessions(db.DB, services.NewRotationStore(db, false), services.SessionConfig{RefreshTTL: time.Hour, MaxAge: 2 * time.Hour,
		ReuseGrace: 10 * time.Second, MaxSessions: 20}, tokens, events, set, pub, make([]byte, 32), clock)
	acc := services.NewAccounts(db.DB, services.AccountConfig{MinPasswordLength: 12, SignupEnabled: true}, hasher, events, ses, clock)
	u, err := acc.CreateUser(context.Background(), "devices-"+uuid.NewString()[:8]+"@example.com", "correct horse battery staple 42", "user")
	testdb.Must(t, err)
	return &fixture{db: db, set: set, pub: pub, sessions: ses, accounts: acc, user: u}
}

func (f *fixture) start(t *testing.T) services.Principal {
	t.Helper()
	pair, err := f.sessions.Start(context.Background(), f.user, services.StartOptions{}, services.Meta{IPPrefix: "192.0.2.0/24"})
	testdb.Must(t, err)
	return pair.Access.Principal
}

func code(err error) string { return services.ErrorCode(err) }

func TestSessions_RevokeDevice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		me, other := f.start(t), f.start(t)
		stale := me
		stale.Fresh = false

		if err := f.sessions.RevokeDevice(ctx, stale, other.SessionID, services.Meta{}); code(err) != services.CodeFreshTokenRequired {
			t.Fatalf("stale token revoking another device: %v, want fresh_token_required", err)
		}
		// The freshness rule answers before the look-up: the same for an
		// unknown id, so it tells nothing about which ids exist.
		if err := f.sessions.RevokeDevice(ctx, stale, uuid.New(), services.Meta{}); code(err) != services.CodeFreshTokenRequired {
			t.Fatalf("stale token, unknown id: %v, want fresh_token_required", err)
		}
		testdb.Must(t, f.sessions.RevokeDevice(ctx, me, other.SessionID, services.Meta{}))
		if revoked, _ := f.set.IsRevoked(ctx, other.SessionID); !revoked {
			t.Fatal("the revoked session is not in the in-memory set at once")
		}
		if err := f.sessions.RevokeDevice(ctx, me, other.SessionID, services.Meta{}); code(err) != services.CodeNotFound {
			t.Fatalf("revoking it again: %v, want not_found", err)
		}
		if _, err := f.sessions.RenameDevice(ctx, me, other.SessionID, "x"); code(err) != services.CodeNotFound {
			t.Fatalf("renaming a revoked session: %v, want not_found", err)
		}
		testdb.Must(t, f.sessions.RevokeDevice(ctx, stale, me.SessionID, services.Meta{}))
		if n := testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE type = 'session_revoked' AND reason = 'user_revoked' AND actor_user_id = ?", f.user.ID); n != 2 {
			t.Fatalf("user_revoked events with the user as actor = %d, want 2", n)
		}
	})
}

func TestSessions_RevokeDevicesNotifiesInTransaction(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		me := f.start(t)
		a, b := f.start(t), f.start(t)

		fail := errors.New("notify failed")
		f.pub.publish = func(ctx context.Context, tx *gorm.DB, c services.Change) error { return fail }
		if _, err := f.sessions.RevokeOtherDevices(ctx, me, services.Meta{}); !errors.Is(err, fail) {
			t.Fatalf("RevokeOtherDevices with a failing notify = %v", err)
		}
		// Without its broadcast a revocation would not reach the other
		// instances, so it must not commit either.
		if n := testdb.Count(t, db, "SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NOT NULL", f.user.ID); n != 0 {
			t.Fatalf("%d sessions revoked although the notification failed", n)
		}

		var notified []uuid.UUID
		publishes := 0
		f.pub.publish = func(ctx context.Context, tx *gorm.DB, c services.Change) error {
			notified = append(notified, c.Sessions...)
			publishes++
			return nil
		}
		n, err := f.sessions.RevokeOtherDevices(ctx, me, services.Meta{})
		testdb.Must(t, err)
		want := []uuid.UUID{a.SessionID, b.SessionID}
		slices.SortFunc(notified, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
		slices.SortFunc(want, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
		if n != 2 || !slices.Equal(notified, want) {
			t.Fatalf("RevokeOtherDevices = %d, notified %v; want 2, %v", n, notified, want)
		}
		// Batched per transaction: one publication for the revoke-all.
		if publishes != 1 {
			t.Fatalf("RevokeOtherDevices published %d times, want once for the whole batch", publishes)
		}
		notified = nil
		n, err = f.sessions.RevokeAllDevices(ctx, me, services.Meta{})
		testdb.Must(t, err)
		if n != 1 || !slices.Equal(notified, []uuid.UUID{me.SessionID}) {
			t.Fatalf("RevokeAllDevices = %d, notified %v; want 1, the caller's own", n, notified)
		}
	})
}

// TestRevocationFeed_ChannelPerSchema: schemas that share one database do
// not hear each other's revocations, and a feed hears its own schema's.
func TestRevocationFeed_ChannelPerSchema(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	type side struct {
		f      *fixture
		remote *services.Revocations // filled only by the feed
	}
	var sides []side
	for range 2 {
		url := testdb.PostgresURL(t)
		db, err := models.Open(models.Options{URL: url})
		testdb.Must(t, err)
		t.Cleanup(func() { db.Close() })
		testdb.Must(t, db.Migrate(ctx))
		f := newFixture(t, db)
		ch, err := pgfeed.Channel(ctx, db.DB)
		testdb.Must(t, err)
		// A second set, as another instance on the same schema would have.
		remote := services.NewRevocations(db.DB, 15*time.Minute, services.SystemClock)
		feed, err := pgfeed.New(url, ch, remote, log)
		testdb.Must(t, err)
		f.pub.publish = feed.Publish
		feed.Start(ctx)
		t.Cleanup(feed.Stop)
		if remote.Fallback() {
			t.Fatal("feed did not connect")
		}
		sides = append(sides, side{f, remote})
	}
	chans := map[string]bool{}
	for _, s := range sides {
		ch, _ := pgfeed.Channel(ctx, s.f.db.DB)
		chans[ch] = true
	}
	if len(chans) != 2 {
		t.Fatalf("two schemas share the channel %v", chans)
	}

	p := sides[0].f.start(t)
	testdb.Must(t, sides[0].f.sessions.RevokeDevice(ctx, p, p.SessionID, services.Meta{}))
	heard := func(s side) bool {
		revoked, err := s.remote.IsRevoked(ctx, p.SessionID)
		testdb.Must(t, err)
		return revoked
	}
	testutil.WaitFor(t, "the feed of the same schema hears the revocation", time.Second, func() bool { return heard(sides[0]) })
	time.Sleep(100 * time.Millisecond)
	if heard(sides[1]) {
		t.Fatal("the feed of another schema heard the revocation")
	}
}
