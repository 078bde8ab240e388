package app_test

import (
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/services"
)

// FI-8, skewed clocks: two instances on one PostgreSQL, B's own clock 3 s
// off. Grace windows are decided on the database's clock, so both agree:
// a retry on B half a second after A rotated is a retry (B's clock alone
// would make it 3.5 s old, past a 2 s grace), and one 2.6 s after is reuse
// (B's clock alone, 3 s behind, would make it -0.4 s old, within grace).
// Real time, not a settable clock: the point is that no instance's clock
// takes part.
func TestClockSkew_InstancesAgreeOnGrace(t *testing.T) {
	for _, c := range []struct {
		name  string
		skew  time.Duration
		wait  time.Duration
		reuse bool
	}{
		{"B ahead, retry after 0.5 s", 3 * time.Second, 500 * time.Millisecond, false},
		{"B behind, retry after 2.6 s", -3 * time.Second, 2600 * time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"AUTHD_REUSE_GRACE": "2s"}
			a := apitest.New(t, apitest.Options{Dialect: "postgres", Env: env})
			b := apitest.New(t, apitest.Options{DatabaseURL: a.DatabaseURL, Env: env, Skew: c.skew})
			_, r0 := a.NewUser(t, "skew")
			r1 := a.MustRefresh(t, r0.RefreshToken)
			time.Sleep(c.wait)
			r := b.Refresh(t, r0.RefreshToken)
			if !c.reuse {
				if r.Status != 200 {
					t.Fatalf("retry on B = %d %s, want 200 (within grace on the database's clock)", r.Status, r.Body)
				}
				var got apitest.Tokens
				r.JSON(t, &got)
				if got.RefreshToken != r1.RefreshToken {
					t.Fatalf("retry on B returned another child than A's rotation")
				}
				a.MustRefresh(t, r1.RefreshToken) // the family lives on
				return
			}
			if r.Code() != services.CodeRefreshTokenReused {
				t.Fatalf("retry on B after the grace window = %d %s, want refresh_token_reused", r.Status, r.Body)
			}
			if r := a.Refresh(t, r1.RefreshToken); r.Code() != services.CodeSessionRevoked {
				t.Fatalf("the newest token after reuse on B = %d %s, want session_revoked", r.Status, r.Body)
			}
		})
	}
}

// FI-8, expiry on one time source: a session idle past its refresh TTL is
// refused on an instance whose clock runs behind, and a fresh one is
// accepted on an instance whose clock runs ahead by more than the TTL left.
func TestClockSkew_InstancesAgreeOnIdleExpiry(t *testing.T) {
	env := map[string]string{"AUTHD_REFRESH_TTL": "2s", "AUTHD_ACCESS_TTL": "1s"}
	a := apitest.New(t, apitest.Options{Dialect: "postgres", Env: env})
	behind := apitest.New(t, apitest.Options{DatabaseURL: a.DatabaseURL, Env: env, Skew: -5 * time.Second})
	ahead := apitest.New(t, apitest.Options{DatabaseURL: a.DatabaseURL, Env: env, Skew: 5 * time.Second})

	_, fresh := a.NewUser(t, "fresh")
	if r := ahead.Refresh(t, fresh.RefreshToken); r.Status != 200 {
		t.Fatalf("a token minted just now, refreshed on an instance 5 s ahead = %d %s, want 200 (2 s TTL, database time)", r.Status, r.Body)
	}
	_, idle := a.NewUser(t, "idle")
	time.Sleep(2500 * time.Millisecond)
	if r := behind.Refresh(t, idle.RefreshToken); r.Code() != services.CodeTokenExpired {
		t.Fatalf("a token idle 2.5 s, refreshed on an instance 5 s behind = %d %s, want token_expired (2 s TTL, database time)", r.Status, r.Body)
	}
}
