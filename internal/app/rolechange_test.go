package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testutil"
	"github.com/authd/authd/models"
)

// newAdmin creates an admin account through s's services and signs it in
// on s.
func newAdmin(t *testing.T, s *apitest.Server, name string) (id string, tok apitest.Tokens) {
	t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())
	u, err := s.App.Accounts().CreateUser(context.Background(), email, apitest.Password, models.RoleAdmin)
	if err != nil {
		t.Fatalf("create admin: %v", err)
	}
	return u.ID.String(), s.Login(t, email, apitest.Password)
}

// adminRefusedWithin polls an admin route on s with access until it answers
// 403 forbidden, and fails t unless that happens within limit.
func adminRefusedWithin(t *testing.T, s *apitest.Server, access string, limit time.Duration) time.Duration {
	t.Helper()
	return s.AwaitProblem(t, "GET", "/v1/admin/users", access, 403, "forbidden", limit)
}

// TestMultiInstance_DemotionReachesOtherInstance (issue 15 item 6): an admin
// demoted on A loses admin rights on B within a second, with the access
// token issued while still admin, from B's memory (no database look-up per
// request); a restarted instance knows it from its start-up load.
func TestMultiInstance_DemotionReachesOtherInstance(t *testing.T) {
	a, b := pair(t, nil, nil)
	_, alice := newAdmin(t, a, "alice")
	bobID, bob := newAdmin(t, a, "bob")
	mustStatus(t, b.Do(t, "GET", "/v1/admin/users", nil, apitest.Bearer(bob.AccessToken)), 200)
	checks := b.App.Revocations().DBChecks.Load()

	mustStatus(t, a.Do(t, "PATCH", "/v1/admin/users/"+bobID, map[string]string{"role": "user"}, apitest.Bearer(alice.AccessToken)), 200)
	took := adminRefusedWithin(t, b, bob.AccessToken, time.Second)
	t.Logf("refused on B after %s", took)
	if got := b.App.Revocations().DBChecks.Load(); got != checks {
		t.Fatalf("B made %d database checks, want none outside fallback", got-checks)
	}
	// Bob is still signed in, as a user.
	mustStatus(t, b.Do(t, "GET", "/v1/me", nil, apitest.Bearer(bob.AccessToken)), 200)

	c := apitest.New(t, apitest.Options{DatabaseURL: a.DatabaseURL})
	adminRefusedWithin(t, c, bob.AccessToken, 0)
}

// TestMultiInstance_DemotionWhileListenerLost: while B's LISTEN connection
// is down, B looks roles up in the database, so a demotion on A still takes
// effect on B within a second.
func TestMultiInstance_DemotionWhileListenerLost(t *testing.T) {
	a, b, proxy := pairListeningViaProxy(t)
	rev := b.App.Revocations()
	_, alice := newAdmin(t, a, "alice")
	bobID, bob := newAdmin(t, a, "bob")
	mustStatus(t, b.Do(t, "GET", "/v1/admin/users", nil, apitest.Bearer(bob.AccessToken)), 200)

	proxy.Refuse(true)
	proxy.Cut()
	testutil.WaitFor(t, "B switches to fallback", time.Second, rev.Fallback)
	checks := rev.DBChecks.Load()
	mustStatus(t, a.Do(t, "PATCH", "/v1/admin/users/"+bobID, map[string]string{"role": "user"}, apitest.Bearer(alice.AccessToken)), 200)
	adminRefusedWithin(t, b, bob.AccessToken, time.Second)
	if rev.DBChecks.Load() == checks || !rev.Fallback() {
		t.Fatal("B did not answer from the database while disconnected: the test proved nothing")
	}

	// After reconnecting, B has reloaded the change and answers from memory.
	proxy.Refuse(false)
	testutil.WaitFor(t, "B reconnects and leaves fallback", 5*time.Second, func() bool { return !rev.Fallback() })
	checks = rev.DBChecks.Load()
	adminRefusedWithin(t, b, bob.AccessToken, 0)
	if rev.DBChecks.Load() != checks {
		t.Fatal("B still asks the database after reconnecting")
	}
}
