package services_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// retentionFixture is a user with sessions and tokens in every state of
// their life, seen from now.
type retentionFixture struct {
	now                                 time.Time
	live, recentlyRevoked, oldRevoked   uuid.UUID
	oldExpired, longIdle                uuid.UUID
	liveToken, expiredToken, graceToken uuid.UUID
	oldEvent, newEvent                  uuid.UUID
}

const (
	testRetention  = 720 * time.Hour
	testRefreshTTL = 336 * time.Hour
	testGrace      = 10 * time.Second
)

func seedRetention(t *testing.T, db *gorm.DB) retentionFixture {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	f := retentionFixture{now: now}
	u := &models.User{ID: uuid.New(), Email: uuid.NewString() + "@example.com", PasswordHash: "x", Role: "user", CreatedAt: now, UpdatedAt: now}
	testdb.Must(t, models.CreateUser(ctx, db, u))
	session := func(created, lastUsed, expires time.Time, revoked *time.Time) uuid.UUID {
		s := &models.Session{ID: uuid.New(), UserID: u.ID, ClientID: "c", DeviceName: "d", UserAgent: "ua",
			CreatedAt: created, LastUsedAt: lastUsed, ExpiresAt: expires}
		if revoked != nil {
			reason := models.ReasonLogout
			s.RevokedAt, s.RevokeReason = revoked, &reason
		}
		testdb.Must(t, models.CreateSession(ctx, db, s))
		return s.ID
	}
	token := func(sid uuid.UUID, expires time.Time) uuid.UUID {
		rt := &models.RefreshToken{ID: uuid.New(), SessionID: sid, SecretHash: []byte{1}, CreatedAt: now.Add(-time.Hour), ExpiresAt: expires}
		testdb.Must(t, models.CreateRefreshToken(ctx, db, rt))
		return rt.ID
	}
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	recent, old := ago(time.Hour), ago(testRetention+time.Hour)
	f.live = session(ago(time.Hour), ago(time.Minute), now.Add(time.Hour), nil)
	f.recentlyRevoked = session(ago(2*time.Hour), ago(time.Hour), now.Add(time.Hour), &recent)
	f.oldRevoked = session(ago(800*time.Hour), ago(800*time.Hour), now.Add(time.Hour), &old)
	f.oldExpired = session(ago(2000*time.Hour), ago(800*time.Hour), ago(testRetention+time.Minute), nil)
	f.longIdle = session(ago(2000*time.Hour), ago(testRetention+testRefreshTTL+time.Hour), now.Add(time.Hour), nil)
	f.liveToken = token(f.live, now.Add(time.Hour))
	f.expiredToken = token(f.live, ago(time.Minute))
	f.graceToken = token(f.live, ago(testGrace/2)) // expired, but within the grace window
	token(f.oldRevoked, now.Add(time.Hour))

	e := &models.SecurityEvent{Type: models.EventLoginFailed, CreatedAt: ago(10 * testRetention)}
	testdb.Must(t, models.InsertSecurityEvent(ctx, db, e))
	f.oldEvent = e.ID
	e = &models.SecurityEvent{Type: models.EventLoginFailed, CreatedAt: now}
	testdb.Must(t, models.InsertSecurityEvent(ctx, db, e))
	f.newEvent = e.ID
	return f
}

func exists(t *testing.T, db *models.DB, table string, id uuid.UUID) bool {
	t.Helper()
	return testdb.Count(t, db, "SELECT count(*) FROM "+table+" WHERE id = ?", id) == 1
}

func TestRetention_RunOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := seedRetention(t, db.DB)
		var logs bytes.Buffer
		r := services.NewRetention(db.DB, services.RetentionConfig{SessionRetention: testRetention,
			RefreshTTL: testRefreshTTL, ReuseGrace: testGrace, BatchSize: 2},
			slog.New(slog.NewJSONHandler(&logs, nil)), func() time.Time { return f.now })
		round, err := r.RunOnce(context.Background())
		if err != nil {
			t.Fatalf("RunOnce() error = %v", err)
		}
		if round.Sessions != 3 || round.RefreshTokens != 1 || round.Events != 0 || round.Skipped {
			t.Errorf("RunOnce() = %+v, want 3 sessions, 1 expired token, no events", round)
		}
		for name, want := range map[string]struct {
			table string
			id    uuid.UUID
			kept  bool
		}{
			"live session":             {"sessions", f.live, true},
			"recently revoked session": {"sessions", f.recentlyRevoked, true},
			"old revoked session":      {"sessions", f.oldRevoked, false},
			"old expired session":      {"sessions", f.oldExpired, false},
			"long idle session":        {"sessions", f.longIdle, false},
			"live token":               {"refresh_tokens", f.liveToken, true},
			"expired token":            {"refresh_tokens", f.expiredToken, false},
			"token within grace":       {"refresh_tokens", f.graceToken, true},
			"old event":                {"security_events", f.oldEvent, true},
			"new event":                {"security_events", f.newEvent, true},
		} {
			if got := exists(t, db, want.table, want.id); got != want.kept {
				t.Errorf("%s kept = %v, want %v", name, got, want.kept)
			}
		}
		// The revoked session's tokens went with it.
		if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ?", f.oldRevoked); n != 0 {
			t.Errorf("%d tokens of the deleted session remain", n)
		}
		if !strings.Contains(logs.String(), `"msg":"retention round"`) || !strings.Contains(logs.String(), `"sessions_deleted":3`) {
			t.Errorf("progress line missing: %s", logs.String())
		}
		// A second round finds nothing.
		if round, err := r.RunOnce(context.Background()); err != nil || round.Sessions+round.RefreshTokens != 0 {
			t.Errorf("second RunOnce() = %+v, %v, want nothing to do", round, err)
		}
	})
}

func TestRetention_EventRetentionPurgesOnlyOldEvents(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := seedRetention(t, db.DB)
		r := services.NewRetention(db.DB, services.RetentionConfig{SessionRetention: testRetention,
			EventRetention: 2 * testRetention, RefreshTTL: testRefreshTTL, ReuseGrace: testGrace},
			slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return f.now })
		round, err := r.RunOnce(context.Background())
		if err != nil || round.Events != 1 {
			t.Fatalf("RunOnce() = %+v, %v, want 1 event purged", round, err)
		}
		if exists(t, db, "security_events", f.oldEvent) || !exists(t, db, "security_events", f.newEvent) {
			t.Error("want the old event purged and the new one kept")
		}
		if db.IsPostgres() {
			// The purge switch was local to the retention transaction.
			err := db.Exec("DELETE FROM security_events WHERE id = ?", f.newEvent).Error
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("DELETE after the purge = %v, want the append-only trigger to refuse", err)
			}
		}
	})
}

// Many instances may run retention at once: the work is done once, without
// errors, and an instance that finds the lock taken skips the round.
func TestRetention_ConcurrentInstances(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	f := seedRetention(t, db.DB)
	for i := 0; i < 300; i++ {
		rt := &models.RefreshToken{ID: uuid.New(), SessionID: f.live, SecretHash: []byte{1}, CreatedAt: f.now.Add(-time.Hour),
			ExpiresAt: f.now.Add(-time.Hour)}
		testdb.Must(t, models.CreateRefreshToken(ctx, db.DB, rt))
	}
	cfg := services.RetentionConfig{SessionRetention: testRetention, RefreshTTL: testRefreshTTL, ReuseGrace: testGrace, BatchSize: 25}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	rounds := make([]services.RetentionRound, 4)
	for i := range rounds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := services.NewRetention(db.DB, cfg, quiet, func() time.Time { return f.now })
			var err error
			if rounds[i], err = r.RunOnce(ctx); err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	// Whatever an instance skipped, a later round finishes.
	r := services.NewRetention(db.DB, cfg, quiet, func() time.Time { return f.now })
	last, err := r.RunOnce(ctx)
	testdb.Must(t, err)
	var tokens, sessions int64
	for _, rd := range append(rounds, last) {
		tokens += rd.RefreshTokens
		sessions += rd.Sessions
	}
	if tokens != 301 || sessions != 3 {
		t.Errorf("deleted %d tokens and %d sessions in all, want 301 and 3 (each once)", tokens, sessions)
	}

	// While another transaction holds the lock, a round does nothing.
	for i := 0; i < 3; i++ {
		rt := &models.RefreshToken{ID: uuid.New(), SessionID: f.live, SecretHash: []byte{1}, CreatedAt: f.now.Add(-time.Hour),
			ExpiresAt: f.now.Add(-time.Hour)}
		testdb.Must(t, models.CreateRefreshToken(ctx, db.DB, rt))
	}
	tx := db.Begin()
	defer tx.Rollback()
	if ok, err := models.TryRetentionLock(ctx, tx); !ok || err != nil {
		t.Fatalf("TryRetentionLock() = %v, %v", ok, err)
	}
	round, err := r.RunOnce(ctx)
	if err != nil || !round.Skipped || round.RefreshTokens != 0 {
		t.Errorf("RunOnce() while locked = %+v, %v, want skipped with nothing deleted", round, err)
	}
}
