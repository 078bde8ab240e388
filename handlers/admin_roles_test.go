package handlers_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
)

// setRole sends PATCH /v1/admin/users/{id} with role.
func setRole(t *testing.T, s *apitest.Server, token, userID string, body any) *apitest.Response {
	t.Helper()
	return s.Do(t, "PATCH", "/v1/admin/users/"+userID, body, apitest.Bearer(token))
}

// forbiddenWithin polls an admin route with token until it answers 403
// forbidden, and fails t unless that happens within limit.
func forbiddenWithin(t *testing.T, s *apitest.Server, token string, limit time.Duration) {
	t.Helper()
	s.AwaitProblem(t, "GET", "/v1/admin/users", token, 403, "forbidden", limit)
}

// Issue 15 item 6: a demoted admin's live access token loses admin rights
// within a second; the change needs a fresh token, records role_changed
// and cannot remove the last admin.
func TestAdmin_SetRole(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		aliceID, alice := newAdmin(t, s)
		bobID, bob := newAdmin(t, s)
		if r := s.Do(t, "GET", "/v1/admin/users", nil, apitest.Bearer(bob.AccessToken)); r.Status != 200 {
			t.Fatalf("bob as admin = %d %s", r.Status, r.Body)
		}

		// A token from a refresh is not fresh: a stolen one must not do it.
		stale := s.MustRefresh(t, alice.RefreshToken)
		alice.RefreshToken = stale.RefreshToken
		if r := setRole(t, s, stale.AccessToken, bobID, map[string]string{"role": "user"}); r.Status != 401 || r.Code() != "fresh_token_required" {
			t.Fatalf("PATCH with a stale token = %d %s, want 401 fresh_token_required", r.Status, r.Body)
		}

		for _, tc := range []struct {
			name string
			body any
			id   string
			want int
			code string
		}{
			{"unknown role", map[string]string{"role": "root"}, bobID, 400, "invalid_request"},
			{"no role", map[string]string{}, bobID, 400, "invalid_request"},
			{"unknown field", map[string]string{"role": "user", "email": "x@example.com"}, bobID, 400, "invalid_request"},
			{"unknown user", map[string]string{"role": "user"}, "0190a7a5-0000-7000-8000-000000000000", 404, "not_found"},
			{"not a uuid", map[string]string{"role": "user"}, "bob", 404, "not_found"},
		} {
			if r := setRole(t, s, alice.AccessToken, tc.id, tc.body); r.Status != tc.want || r.Code() != tc.code {
				t.Errorf("%s: PATCH = %d %s, want %d %s", tc.name, r.Status, r.Body, tc.want, tc.code)
			}
		}

		r := setRole(t, s, alice.AccessToken, bobID, map[string]string{"role": "user"})
		if r.Status != 200 {
			t.Fatalf("demote bob = %d %s", r.Status, r.Body)
		}
		var got struct {
			User struct{ ID, Role string } `json:"user"`
		}
		r.JSON(t, &got)
		if got.User.ID != bobID || got.User.Role != "user" {
			t.Fatalf("demote bob answered %+v", got.User)
		}
		// Bob's access token was issued while he was admin.
		forbiddenWithin(t, s, bob.AccessToken, time.Second)
		if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(bob.AccessToken)); r.Status != 200 || r.Map(t)["role"] != "user" {
			t.Fatalf("bob's /v1/me after the demotion = %d %s, want 200 with role user", r.Status, r.Body)
		}
		if tok := s.MustRefresh(t, bob.RefreshToken); s.Do(t, "GET", "/v1/admin/users", nil, apitest.Bearer(tok.AccessToken)).Status != 403 {
			t.Fatal("bob's refreshed token still has admin rights")
		}

		events := listEvents(t, s, alice.AccessToken, url.Values{"type": {"role_changed"}}).Events
		if len(events) != 1 {
			t.Fatalf("%d role_changed events, want 1: %+v", len(events), events)
		}
		ev := events[0]
		if ev.UserID == nil || *ev.UserID != bobID || ev.ActorUserID == nil || *ev.ActorUserID != aliceID ||
			ev.Details["old_role"] != "admin" || ev.Details["new_role"] != "user" {
			t.Fatalf("role_changed event = %+v, want bob's, by alice, admin → user", ev)
		}
		// The role bob has already: nothing changes, nothing is recorded.
		if r := setRole(t, s, alice.AccessToken, bobID, map[string]string{"role": "user"}); r.Status != 200 {
			t.Fatalf("setting the same role = %d %s", r.Status, r.Body)
		}
		if n := len(listEvents(t, s, alice.AccessToken, url.Values{"type": {"role_changed"}}).Events); n != 1 {
			t.Fatalf("%d role_changed events after a no-op, want 1", n)
		}

		// Alice is the last admin now.
		if r := setRole(t, s, alice.AccessToken, aliceID, map[string]string{"role": "user"}); r.Status != 409 || r.Code() != "last_admin" {
			t.Fatalf("demoting the last admin = %d %s, want 409 last_admin", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", "/v1/admin/users", nil, apitest.Bearer(alice.AccessToken)); r.Status != 200 {
			t.Fatalf("alice after the refused demotion = %d", r.Status)
		}
		// Promotion takes effect on live tokens as well, and a user cannot
		// make himself admin.
		if r := setRole(t, s, bob.AccessToken, bobID, map[string]string{"role": "admin"}); r.Status != 403 {
			t.Fatalf("bob promoting himself = %d %s, want 403", r.Status, r.Body)
		}
		if r := setRole(t, s, alice.AccessToken, bobID, map[string]string{"role": "admin"}); r.Status != 200 {
			t.Fatalf("promote bob = %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", "/v1/admin/users", nil, apitest.Bearer(bob.AccessToken)); r.Status != 200 {
			t.Fatalf("bob's old token after his promotion = %d, want 200", r.Status)
		}
		if r := setRole(t, s, alice.AccessToken, aliceID, map[string]string{"role": "user"}); r.Status != 200 {
			t.Fatalf("alice stepping down with another admin left = %d %s", r.Status, r.Body)
		}
		forbiddenWithin(t, s, alice.AccessToken, time.Second)
	})
}

// Issue 19: the security page names the user of an event by email, through
// GET /v1/admin/users/{id}, which only admins may call.
func TestAdmin_GetUser(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, admin := newAdmin(t, s)
		email, user := s.NewUser(t, "named")
		userID := user.User.ID
		r := s.Do(t, "GET", "/v1/admin/users/"+userID, nil, apitest.Bearer(admin.AccessToken))
		if r.Status != 200 {
			t.Fatalf("GET user = %d %s", r.Status, r.Body)
		}
		var got struct {
			User struct {
				ID    string `json:"id"`
				Email string `json:"email"`
				Role  string `json:"role"`
			} `json:"user"`
		}
		r.JSON(t, &got)
		if got.User.ID != userID || got.User.Email != email || got.User.Role != "user" {
			t.Errorf("GET user = %+v, want id %s, email %s, role user", got.User, userID, email)
		}
		for _, tc := range []struct {
			name, id, token string
			want            int
			code            string
		}{
			{"unknown user", "0190a7a5-0000-7000-8000-000000000000", admin.AccessToken, 404, "not_found"},
			{"not a uuid", "bob", admin.AccessToken, 404, "not_found"},
			{"not an admin", userID, user.AccessToken, 403, "forbidden"},
		} {
			if r := s.Do(t, "GET", "/v1/admin/users/"+tc.id, nil, apitest.Bearer(tc.token)); r.Status != tc.want || r.Code() != tc.code {
				t.Errorf("%s: GET = %d %s, want %d %s", tc.name, r.Status, r.Body, tc.want, tc.code)
			}
		}
	})
}
