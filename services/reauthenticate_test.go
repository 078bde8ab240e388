package services_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// A session that has ended cannot be revived by re-authenticating with an
// access token that is still valid: the answer is the refresh's, and the
// session's lifetime stays what it was (issue 15 item 5).
func TestAccounts_ReauthenticateDeadSession(t *testing.T) {
	const pw = "correct horse battery staple 42"
	tests := []struct {
		name     string
		end      func(t *testing.T, f *fixture, db *models.DB, pair services.TokenPair)
		wantCode string
	}{
		{"live session gets a fresh token", func(*testing.T, *fixture, *models.DB, services.TokenPair) {}, ""},
		{"revoked session", func(t *testing.T, f *fixture, _ *models.DB, pair services.TokenPair) {
			_, err := f.sessions.Revoke(context.Background(), pair.SessionID, models.ReasonUserRevoked, nil, services.Meta{})
			testdb.Must(t, err)
		}, services.CodeSessionRevoked},
		{"past its absolute lifetime", func(t *testing.T, _ *fixture, db *models.DB, pair services.TokenPair) {
			testdb.Must(t, db.DB.Exec("UPDATE sessions SET expires_at = ? WHERE id = ?", time.Now().UTC().Add(-time.Second), pair.SessionID).Error)
		}, services.CodeTokenExpired},
		{"idle beyond the refresh-token lifetime", func(t *testing.T, _ *fixture, db *models.DB, pair services.TokenPair) {
			testdb.Must(t, db.DB.Exec("UPDATE refresh_tokens SET expires_at = ? WHERE session_id = ?", time.Now().UTC().Add(-time.Second), pair.SessionID).Error)
		}, services.CodeTokenExpired},
	}
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := newFixture(t, db)
				ctx := context.Background()
				pair, err := f.sessions.Start(ctx, f.user, services.StartOptions{}, services.Meta{})
				testdb.Must(t, err)
				stale := pair.Access.Principal
				stale.Fresh = false
				tt.end(t, f, db, pair)
				before := lifetime(t, db, pair)

				at, err := f.accounts.Reauthenticate(ctx, stale, pw, services.Meta{})
				if got := code(err); got != tt.wantCode {
					t.Fatalf("Reauthenticate() code = %q, want %q", got, tt.wantCode)
				}
				if tt.wantCode == "" {
					if !at.Principal.Fresh || at.Principal.SessionID != pair.SessionID {
						t.Fatalf("Reauthenticate() = %+v, want a fresh token for session %s", at.Principal, pair.SessionID)
					}
					return
				}
				if at.Token != "" {
					t.Fatal("Reauthenticate() of a dead session returned a token")
				}
				if after := lifetime(t, db, pair); after != before {
					t.Fatalf("the session's lifetime changed: before %s, after %s", before, after)
				}
				if _, err := f.sessions.Refresh(ctx, pair.RefreshToken, services.Meta{}); code(err) != tt.wantCode {
					t.Fatalf("Refresh() after the refused re-authentication: %v, want %s", err, tt.wantCode)
				}
			})
		}
	})
}

// lifetime describes what bounds a session's life: its absolute expiry,
// last use and revocation, and the expiry of its newest refresh token.
func lifetime(t *testing.T, db *models.DB, pair services.TokenPair) string {
	t.Helper()
	ctx := context.Background()
	s, err := models.FindSessionByID(ctx, db.DB, pair.SessionID)
	testdb.Must(t, err)
	rt, err := models.LatestRefreshToken(ctx, db.DB, pair.SessionID)
	testdb.Must(t, err)
	return fmt.Sprintf("expires %s, used %s, revoked %v, refresh token generation %d expires %s",
		s.ExpiresAt.UTC(), s.LastUsedAt.UTC(), s.RevokedAt != nil, rt.Generation, rt.ExpiresAt.UTC())
}
