package services_test

import (
	"testing"
	"time"

	"github.com/authd/authd/services"
)

// at is a fixed instant for the decision table; the table needs no clock.
var at = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func ago(d time.Duration) *time.Time { t := at.Add(-d); return &t }

// liveToken, activeSession and usedToken build the states the rows of the
// decision table vary.
func liveToken() services.TokenState { return services.TokenState{ExpiresAt: at.Add(time.Hour)} }

func activeSession() services.SessionState {
	return services.SessionState{ExpiresAt: at.Add(2 * time.Hour)}
}

// rotatedToken was rotated age ago; its child is live.
func rotatedToken(age time.Duration) services.TokenState {
	tok := liveToken()
	tok.RotatedAt = ago(age)
	child := liveToken()
	tok.Child = &child
	return tok
}

// Every row of the decision, and its edges.
func TestDecide(t *testing.T) {
	const grace = 10 * time.Second
	tests := []struct {
		name  string
		tok   services.TokenState
		ses   services.SessionState
		grace time.Duration
		want  services.DecisionKind
	}{
		{"live token of an active session rotates", liveToken(), activeSession(), grace, services.Rotate},
		{"live token with no grace rotates", liveToken(), activeSession(), 0, services.Rotate},

		{"revoked session, live token", liveToken(), func() services.SessionState {
			s := activeSession()
			s.RevokedAt = ago(time.Minute)
			return s
		}(), grace, services.Revoked},
		{"revoked session, rotated token stays reuse", rotatedToken(time.Second), func() services.SessionState {
			s := activeSession()
			s.RevokedAt = ago(time.Minute)
			return s
		}(), grace, services.Reuse},
		{"revoked session wins over its expiry", liveToken(), services.SessionState{ExpiresAt: at.Add(-time.Second), RevokedAt: ago(time.Minute)}, grace, services.Revoked},

		{"session past its absolute lifetime", liveToken(), services.SessionState{ExpiresAt: at.Add(-time.Second)}, grace, services.Expired},
		{"session expiring at this instant is expired", liveToken(), services.SessionState{ExpiresAt: at}, grace, services.Expired},
		{"session one microsecond from its end still rotates", liveToken(), services.SessionState{ExpiresAt: at.Add(time.Microsecond)}, grace, services.Rotate},
		{"expired session, retry within grace is expired", rotatedToken(time.Second), services.SessionState{ExpiresAt: at}, grace, services.Expired},

		{"token past its idle lifetime", services.TokenState{ExpiresAt: at.Add(-time.Second)}, activeSession(), grace, services.Expired},
		{"token expiring at this instant is expired", services.TokenState{ExpiresAt: at}, activeSession(), grace, services.Expired},

		{"retry within grace, child unused", rotatedToken(9900 * time.Millisecond), activeSession(), grace, services.Retry},
		{"retry at once", rotatedToken(0), activeSession(), grace, services.Retry},
		{"retry by a request that read the clock before the winner", rotatedToken(-time.Millisecond), activeSession(), grace, services.Retry},
		{"retry at the grace edge is reuse", rotatedToken(grace), activeSession(), grace, services.Reuse},
		{"retry after grace is reuse", rotatedToken(10100 * time.Millisecond), activeSession(), grace, services.Reuse},
		{"grace zero: any second use is reuse", rotatedToken(0), activeSession(), 0, services.Reuse},
		{"grace zero: also before the winner's clock", rotatedToken(-time.Millisecond), activeSession(), 0, services.Reuse},
		{"within grace, child already used, is reuse", func() services.TokenState {
			tok := rotatedToken(time.Second)
			tok.Child.RotatedAt = ago(0)
			return tok
		}(), activeSession(), grace, services.Reuse},
		{"within grace, child revoked, is reuse", func() services.TokenState {
			tok := rotatedToken(time.Second)
			tok.Child.RevokedAt = ago(0)
			return tok
		}(), activeSession(), grace, services.Reuse},
		{"within grace, child expired, is reuse", func() services.TokenState {
			tok := rotatedToken(time.Second)
			tok.Child.ExpiresAt = at
			return tok
		}(), activeSession(), grace, services.Reuse},
		{"within grace, child row gone, is reuse", func() services.TokenState {
			tok := rotatedToken(time.Second)
			tok.Child = nil
			return tok
		}(), activeSession(), grace, services.Reuse},
		{"rotated and revoked token within grace is reuse", func() services.TokenState {
			tok := rotatedToken(time.Second)
			tok.RevokedAt = ago(0)
			return tok
		}(), activeSession(), grace, services.Reuse},
		{"revoked, never rotated token is reuse", services.TokenState{ExpiresAt: at.Add(time.Hour), RevokedAt: ago(time.Second)}, activeSession(), grace, services.Reuse},
		{"rotated long ago and expired since is reuse, not expired", func() services.TokenState {
			tok := rotatedToken(time.Hour)
			tok.ExpiresAt = at.Add(-time.Minute)
			return tok
		}(), activeSession(), grace, services.Reuse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := services.Decide(tt.tok, tt.ses, at, tt.grace).Kind; got != tt.want {
				t.Fatalf("Decide() = %v, want %v", got, tt.want)
			}
		})
	}
}

// The expiry rule other code checks session liveness with.
func TestSessionState_ExpiredAt(t *testing.T) {
	s := services.SessionState{ExpiresAt: at}
	if s.ExpiredAt(at.Add(-time.Microsecond)) || !s.ExpiredAt(at) || !s.ExpiredAt(at.Add(time.Second)) {
		t.Fatal("ExpiredAt: want false before the end, true at it and after")
	}
	if !s.ActiveAt(at.Add(-time.Second)) || s.ActiveAt(at) {
		t.Fatal("ActiveAt: want true before the end, false at it")
	}
	s.RevokedAt = ago(time.Hour)
	if s.ActiveAt(at.Add(-time.Second)) {
		t.Fatal("ActiveAt of a revoked session = true, want false")
	}
}
