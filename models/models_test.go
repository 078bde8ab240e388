package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
)

// userWithSession stores a user with one active session (device "d" of
// client "app", an hour to live) and returns them with the time used.
func userWithSession(t *testing.T, db *models.DB, email string) (*models.User, *models.Session, time.Time) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := &models.User{ID: uuid.New(), Email: email, PasswordHash: "x", Role: "user", CreatedAt: now, UpdatedAt: now}
	testdb.Must(t, models.CreateUser(ctx, db.DB, u))
	s := &models.Session{ID: uuid.New(), UserID: u.ID, ClientID: "app", DeviceName: "d", UserAgent: "ua",
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	testdb.Must(t, models.CreateSession(ctx, db.DB, s))
	return u, s, now
}

func TestReadRefreshRow_ReturnsSessionAndUser(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		u, s, now := userWithSession(t, db, "a@example.com")
		rt := &models.RefreshToken{ID: uuid.New(), SessionID: s.ID, SecretHash: []byte{1, 2}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		testdb.Must(t, models.CreateRefreshToken(ctx, db.DB, rt))

		row, found, err := models.ReadRefreshRow(ctx, db.DB, rt.ID)
		if err != nil || !found {
			t.Fatalf("ReadRefreshRow() = %v, %v", found, err)
		}
		head := row.Head()
		want := models.SessionHead{ID: s.ID, UserID: u.ID, ClientID: "app", ExpiresAt: s.ExpiresAt, Email: u.Email, Role: "user", UserCreatedAt: now}
		if !head.ExpiresAt.Equal(want.ExpiresAt) || !head.UserCreatedAt.Equal(want.UserCreatedAt) {
			t.Fatalf("times = %v %v, want %v %v", head.ExpiresAt, head.UserCreatedAt, want.ExpiresAt, want.UserCreatedAt)
		}
		head.ExpiresAt, head.UserCreatedAt = want.ExpiresAt, want.UserCreatedAt
		if head != want {
			t.Fatalf("ReadRefreshRow().Head() = %+v, want %+v", head, want)
		}
		if row.SessionID != s.ID || string(row.SecretHash) != "\x01\x02" || row.ChildID != nil || row.RotatedAt != nil {
			t.Fatalf("ReadRefreshRow() = %+v, want the live token of the session", row)
		}
		later := now.Add(time.Second)
		parent := rt.ID
		child := &models.RefreshToken{ID: uuid.New(), SessionID: s.ID, ParentID: &parent, Generation: 1, SecretHash: []byte{3},
			UserAgent: "child-agent", CreatedAt: later, ExpiresAt: later.Add(time.Hour)}
		testdb.Must(t, models.RotateRefreshToken(ctx, db.DB, child))
		row, _, err = models.ReadRefreshRow(ctx, db.DB, rt.ID)
		if err != nil || row.RotatedAt == nil || !row.RotatedAt.Equal(later) || row.ChildID == nil || *row.ChildID != child.ID ||
			row.ChildUserAgent == nil || *row.ChildUserAgent != "child-agent" {
			t.Fatalf("after RotateRefreshToken() = %+v, %v; want rotated at %v with its child", row, err, later)
		}
		second := &models.RefreshToken{ID: uuid.New(), SessionID: s.ID, ParentID: &parent, Generation: 1, SecretHash: []byte{4},
			CreatedAt: later, ExpiresAt: later.Add(time.Hour)}
		if err := models.RotateRefreshToken(ctx, db.DB, second); !errors.Is(err, models.ErrDuplicate) {
			t.Fatalf("second RotateRefreshToken() error = %v, want ErrDuplicate (no forked family)", err)
		}
		gone := uuid.New()
		orphan := &models.RefreshToken{ID: uuid.New(), SessionID: s.ID, ParentID: &gone, Generation: 1, SecretHash: []byte{5},
			CreatedAt: later, ExpiresAt: later.Add(time.Hour)}
		if err := models.RotateRefreshToken(ctx, db.DB, orphan); err == nil {
			t.Fatal("RotateRefreshToken() of an unknown parent succeeded, want an error")
		}
		if _, found, err := models.ReadRefreshRow(ctx, db.DB, uuid.New()); err != nil || found {
			t.Fatalf("ReadRefreshRow(unknown) = %v, %v; want not found", found, err)
		}
	})
}

// Revoking a device rewrites its live refresh token only, not the history of
// rotated ones: after a month of rotations every 15 minutes a family holds
// about 3,000 tokens, and revoking it must cost what revoking a new one does.
func TestRevokeSession_TouchesOnlyTheLiveToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		_, s, now := userWithSession(t, db, "r@example.com")
		var parent *uuid.UUID
		var live uuid.UUID
		for g := 0; g < 300; g++ {
			rt := &models.RefreshToken{ID: uuid.New(), SessionID: s.ID, ParentID: parent, Generation: g, SecretHash: []byte{byte(g)},
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if parent == nil {
				testdb.Must(t, models.CreateRefreshToken(ctx, db.DB, rt))
			} else {
				testdb.Must(t, models.RotateRefreshToken(ctx, db.DB, rt))
			}
			id := rt.ID
			parent, live = &id, id
		}
		got, err := models.RevokeSession(ctx, db.DB, s.ID, models.ReasonLogout, now)
		if err != nil || got == nil || got.ID != s.ID || got.DeviceName != "d" || got.RevokedAt == nil {
			t.Fatalf("RevokeSession() = %+v, %v; want the revoked session", got, err)
		}
		if again, err := models.RevokeSession(ctx, db.DB, s.ID, models.ReasonLogout, now); err != nil || again != nil {
			t.Fatalf("second RevokeSession() = %+v, %v; want nil, nil", again, err)
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND revoked_at IS NOT NULL", s.ID); n != 1 {
			t.Fatalf("%d tokens rewritten by the revocation, want 1 (the live one)", n)
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE id = ? AND revoked_at IS NOT NULL", live); n != 1 {
			t.Fatal("the live token was not revoked")
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND rotated_at IS NULL AND revoked_at IS NULL", s.ID); n != 0 {
			t.Fatalf("%d tokens of the revoked family can still be rotated", n)
		}
	})
}

// Every refresh sets the session's last_used_at. That update must stay
// heap-only (HOT: no new index entries) on PostgreSQL, or each refresh
// writes into every index of sessions (migration 00002). The counters are
// the transaction's own, so the test is exact and needs no stats flush.
func TestSessionTouchIsHeapOnly(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	_, s, now := userWithSession(t, db, "hot@example.com")
	rt := &models.RefreshToken{ID: uuid.New(), SessionID: s.ID, SecretHash: []byte{1}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	testdb.Must(t, models.CreateRefreshToken(ctx, db.DB, rt))
	tx := db.DB.Begin()
	defer tx.Rollback()
	const touches = 20
	for i := 1; i <= touches; i++ {
		if err := models.TouchSession(ctx, tx, s.ID, "203.0.113.0/24", now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	var updated, hot int64
	if err := tx.Raw(`SELECT pg_stat_get_xact_tuples_updated('sessions'::regclass),
		pg_stat_get_xact_tuples_hot_updated('sessions'::regclass)`).Row().Scan(&updated, &hot); err != nil {
		t.Fatal(err)
	}
	if updated != touches || hot != touches {
		t.Fatalf("%d session updates, %d of them heap-only; want %d and %d", updated, hot, touches, touches)
	}
}
