package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
)

func TestTouchSessionOfToken_ReturnsSessionAndUser(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := &models.User{ID: uuid.New(), Email: "a@example.com", PasswordHash: "x", Role: "user", CreatedAt: now, UpdatedAt: now}
		testdb.Must(t, models.CreateUser(ctx, db.DB, u))
		s := &models.Session{ID: uuid.New(), UserID: u.ID, ClientID: "app", DeviceName: "d", UserAgent: "ua",
			CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		testdb.Must(t, models.CreateSession(ctx, db.DB, s))
		rt := &models.RefreshToken{ID: uuid.New(), SessionID: s.ID, SecretHash: []byte{1, 2}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		testdb.Must(t, models.CreateRefreshToken(ctx, db.DB, rt))

		later := now.Add(time.Second)
		head, err := models.TouchSessionOfToken(ctx, db.DB, rt.ID, "203.0.113.0/24", later)
		if err != nil {
			t.Fatalf("TouchSessionOfToken() error = %v", err)
		}
		want := models.SessionHead{ID: s.ID, UserID: u.ID, ClientID: "app", ExpiresAt: s.ExpiresAt, Email: u.Email, Role: "user", UserCreatedAt: now}
		if !head.ExpiresAt.Equal(want.ExpiresAt) || !head.UserCreatedAt.Equal(want.UserCreatedAt) {
			t.Fatalf("times = %v %v, want %v %v", head.ExpiresAt, head.UserCreatedAt, want.ExpiresAt, want.UserCreatedAt)
		}
		head.ExpiresAt, head.UserCreatedAt = want.ExpiresAt, want.UserCreatedAt
		if *head != want {
			t.Fatalf("TouchSessionOfToken() = %+v, want %+v", *head, want)
		}
		rot, err := models.RotateRefreshToken(ctx, db.DB, rt.ID, uuid.New(), later)
		if err != nil || rot.SessionID != s.ID || string(rot.SecretHash) != "\x01\x02" {
			t.Fatalf("RotateRefreshToken() = %+v, %v", rot, err)
		}
		if _, err := models.RotateRefreshToken(ctx, db.DB, rt.ID, uuid.New(), later); err != models.ErrNotFound {
			t.Fatalf("second RotateRefreshToken() error = %v, want ErrNotFound", err)
		}
	})
}
