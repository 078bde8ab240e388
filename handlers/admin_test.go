package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/models"
)

// newAdmin creates an admin account on s and signs it in.
func newAdmin(t testing.TB, s *apitest.Server) (id string, tok apitest.Tokens) {
	t.Helper()
	email := fmt.Sprintf("admin-%d@example.com", time.Now().UnixNano())
	u, err := s.App.Accounts().CreateUser(context.Background(), email, apitest.Password, models.RoleAdmin)
	if err != nil {
		t.Fatalf("create admin: %v", err)
	}
	return u.ID.String(), s.Login(t, email, apitest.Password)
}

// eventList is a decoded GET /v1/admin/security-events.
type eventList struct {
	Events []struct {
		ID          string         `json:"id"`
		Type        string         `json:"type"`
		Reason      string         `json:"reason"`
		UserID      *string        `json:"user_id"`
		SessionID   *string        `json:"session_id"`
		ActorUserID *string        `json:"actor_user_id"`
		IPPrefix    string         `json:"ip_prefix"`
		UserAgent   string         `json:"user_agent"`
		CreatedAt   string         `json:"created_at"`
		Details     map[string]any `json:"details"`
	} `json:"events"`
	NextCursor *string `json:"next_cursor"`
}

func listEvents(t testing.TB, s *apitest.Server, adminToken string, query url.Values) eventList {
	t.Helper()
	r := s.Do(t, "GET", "/v1/admin/security-events?"+query.Encode(), nil, apitest.Bearer(adminToken))
	if r.Status != http.StatusOK {
		t.Fatalf("GET security-events?%s = %d %s, want 200", query.Encode(), r.Status, r.Body)
	}
	var out eventList
	r.JSON(t, &out)
	return out
}

func TestAdmin_RequiresAdminRole(t *testing.T) {
	s := apitest.New(t, apitest.Options{})
	_, user := s.NewUser(t, "plain")
	routes := []struct{ method, path string }{
		{"GET", "/v1/admin/users"},
		{"GET", "/v1/admin/users/" + user.User.ID + "/sessions"},
		{"DELETE", "/v1/admin/users/" + user.User.ID + "/sessions"},
		{"DELETE", "/v1/admin/sessions/" + user.SessionID},
		{"GET", "/v1/admin/security-events"},
		{"GET", "/v1/admin/security-events?format=csv"},
	}
	for _, rt := range routes {
		if r := s.Do(t, rt.method, rt.path, nil, apitest.Bearer(user.AccessToken)); r.Status != 403 || r.Code() != "forbidden" {
			t.Errorf("%s %s as a user = %d %q, want 403 forbidden", rt.method, rt.path, r.Status, r.Code())
		}
		if r := s.Do(t, rt.method, rt.path, nil); r.Status != 401 {
			t.Errorf("%s %s without a token = %d, want 401", rt.method, rt.path, r.Status)
		}
	}
	// The user's session survived the refused DELETEs.
	s.MustRefresh(t, user.RefreshToken)

	// LOG-03: no endpoint edits or deletes events, not even for an admin.
	_, admin := newAdmin(t, s)
	for _, m := range []string{"PUT", "PATCH", "DELETE", "POST"} {
		for _, p := range []string{"/v1/admin/security-events", "/v1/admin/security-events/" + uuid.NewString()} {
			r := s.Do(t, m, p, "{}", apitest.Bearer(admin.AccessToken))
			if r.Status != 404 && r.Status != 405 {
				t.Errorf("%s %s = %d, want 404 or 405", m, p, r.Status)
			}
		}
	}
}

func TestAdmin_ListUsers(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, admin := newAdmin(t, s)
		bearer := apitest.Bearer(admin.AccessToken)
		for _, e := range []string{"carol@example.com", "alice@example.com", "bob@example.com", "al_x@example.com"} {
			s.Register(t, e, apitest.Password)
		}
		type page struct {
			Users []struct {
				ID, Email, Role, CreatedAt string
			} `json:"users"`
			NextCursor *string `json:"next_cursor"`
		}
		get := func(q string) page {
			t.Helper()
			r := s.Do(t, "GET", "/v1/admin/users?"+q, nil, bearer)
			if r.Status != 200 {
				t.Fatalf("GET users?%s = %d %s", q, r.Status, r.Body)
			}
			var p page
			r.JSON(t, &p)
			return p
		}
		// Walk every user two at a time.
		var emails []string
		cursor := ""
		for i := 0; ; i++ {
			p := get("limit=2&cursor=" + url.QueryEscape(cursor))
			for _, u := range p.Users {
				emails = append(emails, u.Email)
			}
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
			if i > 10 {
				t.Fatal("pagination does not end")
			}
		}
		want := []string{admin.User.Email, "al_x@example.com", "alice@example.com", "bob@example.com", "carol@example.com"}
		if fmt.Sprint(emails) != fmt.Sprint(want) {
			t.Fatalf("walked users = %v, want %v", emails, want)
		}
		// The filter is a case-insensitive substring; _ is no wildcard.
		if p := get("email=AL"); len(p.Users) != 2 {
			t.Errorf("email=AL: %d users, want 2", len(p.Users))
		}
		if p := get("email=l_"); len(p.Users) != 1 || p.Users[0].Email != "al_x@example.com" {
			t.Errorf("email=l_ = %+v, want only al_x@example.com", p.Users)
		}
		for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=%21%21", "cursor=" + url.QueryEscape("Zm9v")} {
			if r := s.Do(t, "GET", "/v1/admin/users?"+q, nil, bearer); r.Status != 400 || r.Code() != "invalid_request" {
				t.Errorf("GET users?%s = %d %q, want 400 invalid_request", q, r.Status, r.Code())
			}
		}
	})
}

func TestAdmin_UserSessions(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		adminID, admin := newAdmin(t, s)
		bearer := apitest.Bearer(admin.AccessToken)
		email, first := s.NewUser(t, "dev", apitest.UA("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"))
		second := s.Login(t, email, apitest.Password)
		uid := first.User.ID

		type sessions struct {
			Sessions []map[string]any `json:"sessions"`
		}
		get := func(q string) sessions {
			t.Helper()
			r := s.Do(t, "GET", "/v1/admin/users/"+uid+"/sessions"+q, nil, bearer)
			if r.Status != 200 {
				t.Fatalf("GET sessions%s = %d %s", q, r.Status, r.Body)
			}
			var out sessions
			r.JSON(t, &out)
			return out
		}
		if got := get(""); len(got.Sessions) != 2 {
			t.Fatalf("active sessions = %d, want 2", len(got.Sessions))
		}
		if r := s.Do(t, "DELETE", "/v1/admin/sessions/"+first.SessionID, nil, bearer); r.Status != 204 {
			t.Fatalf("DELETE session = %d %s, want 204", r.Status, r.Body)
		}
		active, revoked, all := get("?state=active"), get("?state=revoked"), get("?state=all")
		if len(active.Sessions) != 1 || active.Sessions[0]["id"] != second.SessionID || active.Sessions[0]["revoked_at"] != nil {
			t.Errorf("active = %v, want only the second session, not revoked", active.Sessions)
		}
		if len(revoked.Sessions) != 1 || revoked.Sessions[0]["id"] != first.SessionID ||
			revoked.Sessions[0]["revoke_reason"] != "admin_revoked" || !strings.HasSuffix(fmt.Sprint(revoked.Sessions[0]["revoked_at"]), "Z") {
			t.Errorf("revoked = %v, want the first session, admin_revoked, with revoked_at", revoked.Sessions)
		}
		if len(all.Sessions) != 2 {
			t.Errorf("all = %d sessions, want 2", len(all.Sessions))
		}
		for _, k := range []string{"id", "device_name", "client_id", "user_agent", "browser", "os", "ip_prefix",
			"created_at", "last_used_at", "expires_at", "current", "revoked_at", "revoke_reason"} {
			if _, ok := revoked.Sessions[0][k]; !ok {
				t.Errorf("session has no %q: %v", k, revoked.Sessions[0])
			}
		}
		if revoked.Sessions[0]["browser"] != "Firefox" || revoked.Sessions[0]["current"] != false {
			t.Errorf("session = %v, want browser Firefox and current false", revoked.Sessions[0])
		}
		// The admin's own session is the current one.
		r := s.Do(t, "GET", "/v1/admin/users/"+adminID+"/sessions", nil, bearer)
		var own sessions
		r.JSON(t, &own)
		if len(own.Sessions) != 1 || own.Sessions[0]["current"] != true {
			t.Errorf("admin's own sessions = %v, want one, current", own.Sessions)
		}
		for q, want := range map[string]int{
			"/v1/admin/users/" + uuid.NewString() + "/sessions":     404,
			"/v1/admin/users/not-a-uuid/sessions":                   404,
			"/v1/admin/users/" + uid + "/sessions?state=everything": 400,
		} {
			if r := s.Do(t, "GET", q, nil, bearer); r.Status != want {
				t.Errorf("GET %s = %d, want %d", q, r.Status, want)
			}
		}
	})
}

// SESS-09: an admin ends all of a user's sessions, and all of the user's
// tokens die.
func TestAdmin_RevokeUserSessions(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		adminID, admin := newAdmin(t, s)
		bearer := apitest.Bearer(admin.AccessToken)
		email, a := s.NewUser(t, "victim")
		b := s.Login(t, email, apitest.Password)
		_, bystander := s.NewUser(t, "bystander")

		r := s.Do(t, "DELETE", "/v1/admin/users/"+a.User.ID+"/sessions", nil, bearer)
		if r.Status != 200 || r.Map(t)["revoked"] != float64(2) {
			t.Fatalf("DELETE user sessions = %d %s, want 200 {revoked:2}", r.Status, r.Body)
		}
		for _, tok := range []apitest.Tokens{a, b} {
			if r := s.Refresh(t, tok.RefreshToken); r.Status != 401 || r.Code() != "session_revoked" {
				t.Errorf("refresh after admin revoke = %d %q, want 401 session_revoked", r.Status, r.Code())
			}
			if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)); r.Status != 401 {
				t.Errorf("GET /v1/me after admin revoke = %d, want 401", r.Status)
			}
		}
		s.MustRefresh(t, bystander.RefreshToken)

		ev := listEvents(t, s, admin.AccessToken, url.Values{"user_id": {a.User.ID}, "reason": {"admin_revoked"}})
		if len(ev.Events) != 2 {
			t.Fatalf("admin_revoked events = %d, want 2", len(ev.Events))
		}
		for _, e := range ev.Events {
			if e.Type != "session_revoked" || e.ActorUserID == nil || *e.ActorUserID != adminID ||
				e.IPPrefix == "" || !strings.HasSuffix(e.CreatedAt, "Z") {
				t.Errorf("event = %+v, want session_revoked by %s with ip_prefix and a UTC time", e, adminID)
			}
		}
		// Nothing left to revoke; an unknown user is 404.
		if r := s.Do(t, "DELETE", "/v1/admin/users/"+a.User.ID+"/sessions", nil, bearer); r.Status != 200 || r.Map(t)["revoked"] != float64(0) {
			t.Errorf("second DELETE = %d %s, want {revoked:0}", r.Status, r.Body)
		}
		if r := s.Do(t, "DELETE", "/v1/admin/users/"+uuid.NewString()+"/sessions", nil, bearer); r.Status != 404 {
			t.Errorf("DELETE unknown user sessions = %d, want 404", r.Status)
		}
	})
}

func TestAdmin_RevokeSession(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		adminID, admin := newAdmin(t, s)
		bearer := apitest.Bearer(admin.AccessToken)
		email, a := s.NewUser(t, "one")
		b := s.Login(t, email, apitest.Password)

		for i := 0; i < 2; i++ { // the second time is a no-op that still succeeds
			if r := s.Do(t, "DELETE", "/v1/admin/sessions/"+a.SessionID, nil, bearer); r.Status != 204 {
				t.Fatalf("DELETE session #%d = %d %s, want 204", i+1, r.Status, r.Body)
			}
		}
		if r := s.Refresh(t, a.RefreshToken); r.Code() != "session_revoked" {
			t.Errorf("refresh of the revoked session = %d %q, want session_revoked", r.Status, r.Code())
		}
		s.MustRefresh(t, b.RefreshToken) // the user's other device is untouched
		ev := listEvents(t, s, admin.AccessToken, url.Values{"session_id": {a.SessionID}, "type": {"session_revoked"}})
		if len(ev.Events) != 1 || ev.Events[0].Reason != "admin_revoked" || *ev.Events[0].ActorUserID != adminID {
			t.Fatalf("events = %+v, want one admin_revoked by the admin", ev.Events)
		}
		for p, want := range map[string]int{"/v1/admin/sessions/" + uuid.NewString(): 404, "/v1/admin/sessions/x": 404} {
			if r := s.Do(t, "DELETE", p, nil, bearer); r.Status != want {
				t.Errorf("DELETE %s = %d, want %d", p, r.Status, want)
			}
		}
	})
}

// Admin revocations need a fresh admin token, like signing out another
// device: a token from a refresh is refused with fresh_token_required
// before any look-up (an unknown id answers the same), nothing is revoked,
// and the token from /v1/auth/reauthenticate is accepted.
func TestAdmin_RevocationsNeedFreshToken(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, login := newAdmin(t, s)
		stale := s.MustRefresh(t, login.RefreshToken)
		_, victim := s.NewUser(t, "victim")

		for _, p := range []string{
			"/v1/admin/users/" + victim.User.ID + "/sessions",
			"/v1/admin/users/" + uuid.NewString() + "/sessions",
			"/v1/admin/sessions/" + victim.SessionID,
			"/v1/admin/sessions/" + uuid.NewString(),
		} {
			if r := s.Do(t, "DELETE", p, nil, apitest.Bearer(stale.AccessToken)); r.Status != 401 || r.Code() != "fresh_token_required" {
				t.Errorf("DELETE %s with a refreshed admin token = %d %q, want 401 fresh_token_required", p, r.Status, r.Code())
			}
		}
		victim = s.MustRefresh(t, victim.RefreshToken) // still signed in

		r := s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": apitest.Password}, apitest.Bearer(stale.AccessToken))
		if r.Status != 200 {
			t.Fatalf("reauthenticate = %d %s, want 200", r.Status, r.Body)
		}
		var fresh struct {
			AccessToken string `json:"access_token"`
		}
		r.JSON(t, &fresh)
		if r := s.Do(t, "DELETE", "/v1/admin/sessions/"+victim.SessionID, nil, apitest.Bearer(fresh.AccessToken)); r.Status != 204 {
			t.Fatalf("DELETE session with a fresh token = %d %s, want 204", r.Status, r.Body)
		}
		if r := s.Do(t, "DELETE", "/v1/admin/users/"+victim.User.ID+"/sessions", nil, apitest.Bearer(fresh.AccessToken)); r.Status != 200 {
			t.Fatalf("DELETE user sessions with a fresh token = %d %s, want 200", r.Status, r.Body)
		}
		if r := s.Refresh(t, victim.RefreshToken); r.Code() != "session_revoked" {
			t.Errorf("refresh of the revoked session = %d %q, want session_revoked", r.Status, r.Code())
		}
	})
}
