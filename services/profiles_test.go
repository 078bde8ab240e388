package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/services"
)

func TestAccounts_ProfileCachedForASecond(t *testing.T) {
	clock := apitest.NewClock()
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Clock: clock})
	email, tok := s.NewUser(t, "profile")
	ctx := context.Background()
	acc := s.App.Accounts()
	u, err := s.App.Accounts().User(ctx, mustUUID(t, tok.User.ID))
	testdb.Must(t, err)

	p, err := acc.Profile(ctx, u.ID)
	if err != nil || p.Email != email || p.PasswordHash != "" {
		t.Fatalf("Profile() = %+v, %v; want the user without its password hash", p, err)
	}
	testdb.Must(t, s.App.DB().Exec(`UPDATE users SET role = 'admin' WHERE id = ?`, u.ID).Error)
	clock.Advance(999 * time.Millisecond)
	if p, _ := acc.Profile(ctx, u.ID); p.Role != "user" {
		t.Fatalf("Profile() within the second = role %q, want the cached %q", p.Role, "user")
	}
	clock.Advance(time.Millisecond)
	if p, _ := acc.Profile(ctx, u.ID); p.Role != "admin" {
		t.Fatalf("Profile() after a second = role %q, want the database's %q", p.Role, "admin")
	}
	testdb.Must(t, s.App.DB().Exec(`DELETE FROM users WHERE id = ?`, u.ID).Error)
	clock.Advance(time.Second)
	if _, err := acc.Profile(ctx, u.ID); services.ErrorCode(err) != services.CodeInvalidToken {
		t.Fatalf("Profile() of a deleted user = %v, want invalid_token", err)
	}
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
