package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authd/authd/internal/apitest"
)

// listOwnEvents walks every page of the caller's own events, limit at a
// time, and returns them in order.
func listOwnEvents(t *testing.T, s *apitest.Server, token string, limit string) []string {
	t.Helper()
	var types []string
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		q := url.Values{"limit": {limit}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := s.Do(t, "GET", "/v1/me/security-events?"+q.Encode(), nil, apitest.Bearer(token))
		if r.Status != http.StatusOK {
			t.Fatalf("GET /v1/me/security-events?%s = %d %s", q.Encode(), r.Status, r.Body)
		}
		var out eventList
		r.JSON(t, &out)
		for _, e := range out.Events {
			if seen[e.ID] {
				t.Fatalf("event %s listed twice while paging", e.ID)
			}
			seen[e.ID] = true
			types = append(types, e.Type+":"+e.Reason)
		}
		if out.NextCursor == nil {
			return types
		}
		if page > 50 {
			t.Fatal("paging does not end")
		}
		cursor = *out.NextCursor
	}
}

// The account page's recent activity: a user sees their own sign-ins,
// failed sign-ins and revocations, pages through them with a cursor, and
// never sees another user's events or the id of the admin who acted.
func TestMe_SecurityEvents(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: map[string]string{"AUTHD_REUSE_GRACE": "0s"}}, func(t *testing.T, s *apitest.Server) {
		adminID, admin := newAdmin(t, s)
		email, tok := s.NewUser(t, "owner")
		_, other := s.NewUser(t, "bystander")
		if r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": "not the password 99"}); r.Status != 401 {
			t.Fatalf("wrong-password login = %d", r.Status)
		}
		second := s.Login(t, email, apitest.Password)
		s.MustRefresh(t, second.RefreshToken)
		if r := s.Refresh(t, second.RefreshToken); r.Code() != "refresh_token_reused" {
			t.Fatalf("replay of a rotated token = %d %s, want refresh_token_reused", r.Status, r.Body)
		}
		if r := s.Do(t, "DELETE", "/v1/admin/sessions/"+tok.SessionID, nil, apitest.Bearer(admin.AccessToken)); r.Status != http.StatusNoContent {
			t.Fatalf("admin revoke = %d %s", r.Status, r.Body)
		}
		third := s.Login(t, email, apitest.Password)

		// One page at a time, newest first.
		got := strings.Join(listOwnEvents(t, s, third.AccessToken, "1"), ",")
		want := "login_succeeded:,session_revoked:admin_revoked,session_revoked:reuse_detected,login_succeeded:,login_failed:,login_succeeded:,user_registered:"
		if got != want {
			t.Errorf("own events, one per page = %s\nwant %s", got, want)
		}
		if all := strings.Join(listOwnEvents(t, s, third.AccessToken, "100"), ","); all != want {
			t.Errorf("own events, one page = %s\nwant %s", all, want)
		}

		r := s.Do(t, "GET", "/v1/me/security-events", nil, apitest.Bearer(third.AccessToken))
		var mine eventList
		r.JSON(t, &mine)
		for _, e := range mine.Events {
			if e.UserID == nil || *e.UserID != tok.User.ID {
				t.Errorf("event %s %s of user %v in the owner's list", e.Type, e.ID, e.UserID)
			}
			if e.ActorUserID != nil && *e.ActorUserID == adminID {
				t.Errorf("event %s %s names the admin %s as its actor", e.Type, e.Reason, adminID)
			}
		}
		// The bystander sees only their own two events.
		if theirs := strings.Join(listOwnEvents(t, s, other.AccessToken, "100"), ","); theirs != "login_succeeded:,user_registered:" {
			t.Errorf("bystander's events = %s, want only their own sign-in and registration", theirs)
		}
		for _, bad := range []string{"limit=0", "limit=abc", "cursor=not-a-cursor"} {
			if r := s.Do(t, "GET", "/v1/me/security-events?"+bad, nil, apitest.Bearer(third.AccessToken)); r.Status != 400 || r.Code() != "invalid_request" {
				t.Errorf("GET /v1/me/security-events?%s = %d %s, want 400 invalid_request", bad, r.Status, r.Code())
			}
		}
		if r := s.Do(t, "GET", "/v1/me/security-events", nil); r.Status != 401 || r.Code() != "invalid_token" {
			t.Errorf("without a token = %d %s, want 401 invalid_token", r.Status, r.Code())
		}
	})
}
