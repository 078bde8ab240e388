package handlers_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
)

const (
	uaChromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaSafariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)

// refreshed returns an access token of the session that is not fresh (a
// refresh never issues a fresh token).
func refreshed(t *testing.T, s *apitest.Server, tok apitest.Tokens) apitest.Tokens {
	t.Helper()
	return s.MustRefresh(t, tok.RefreshToken)
}

func wantStatusCode(t *testing.T, r *apitest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Fatalf("got %d %q (%s), want %d %q", r.Status, r.Code(), r.Body, status, code)
	}
}

// revokeReasons returns the reasons of the session_revoked events of a session.
func revokeReasons(t *testing.T, db *models.DB, sessionID string) []string {
	t.Helper()
	var reasons []string
	err := db.Raw("SELECT reason FROM security_events WHERE type = ? AND session_id = ? ORDER BY created_at",
		models.EventSessionRevoked, sessionID).Scan(&reasons).Error
	if err != nil {
		t.Fatal(err)
	}
	return reasons
}

func TestSessions_List(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock}, func(t *testing.T, s *apitest.Server) {
		email, first := s.NewUser(t, "list", apitest.UA(uaChromeWindows))
		clock.Advance(time.Minute)
		second := s.LoginWith(t, email, map[string]any{"client_id": "mobile-app"}, apitest.UA(uaSafariIPhone))
		clock.Advance(time.Minute)
		third := s.LoginWith(t, email, map[string]any{"device_name": "  Work laptop "}, apitest.UA(uaFirefoxLinux))
		other, _ := s.NewUser(t, "list-other")
		_ = other

		// Raw keys first: the shape is exactly the contract's.
		r := s.Do(t, "GET", "/v1/sessions", nil, apitest.Bearer(second.AccessToken))
		var raw struct {
			Sessions []map[string]any `json:"sessions"`
		}
		r.JSON(t, &raw)
		if len(raw.Sessions) != 3 {
			t.Fatalf("sessions = %d, want 3: %s", len(raw.Sessions), r.Body)
		}
		var keys []string
		for k := range raw.Sessions[0] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := []string{"browser", "client_id", "created_at", "current", "device_name", "dpop_bound", "expires_at", "id",
			"ip_prefix", "last_used_at", "os", "user_agent"}
		if !slices.Equal(keys, want) {
			t.Fatalf("session keys = %v, want %v", keys, want)
		}

		list := s.Sessions(t, second.AccessToken)
		gotIDs := []string{list[0].ID, list[1].ID, list[2].ID}
		wantIDs := []string{third.SessionID, second.SessionID, first.SessionID}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Fatalf("order = %v, want most recently used first %v", gotIDs, wantIDs)
		}
		for _, ss := range list {
			if ss.Current != (ss.ID == second.SessionID) {
				t.Errorf("session %s current = %v", ss.ID, ss.Current)
			}
			if ss.IPPrefix != "127.0.0.0/24" {
				t.Errorf("ip_prefix = %q, want 127.0.0.0/24", ss.IPPrefix)
			}
			for _, ts := range []string{ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt} {
				if tt, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "Z") || tt.IsZero() {
					t.Errorf("time %q is not RFC 3339 UTC", ts)
				}
			}
		}
		if got := list[2]; got.DeviceName != "Chrome on Windows" || got.Browser != "Chrome" || got.OS != "Windows" ||
			got.ClientID != "default" || got.UserAgent != uaChromeWindows {
			t.Errorf("first login = %+v, want Chrome on Windows, client default", got)
		}
		if got := list[1]; got.DeviceName != "Safari on iPhone" || got.OS != "iOS" || got.ClientID != "mobile-app" {
			t.Errorf("second login = %+v, want Safari on iPhone, client mobile-app", got)
		}
		if got := list[0]; got.DeviceName != "Work laptop" || got.Browser != "Firefox" || got.OS != "Linux" {
			t.Errorf("third login = %+v, want the trimmed chosen name", got)
		}
		created, _ := time.Parse(time.RFC3339, list[2].CreatedAt)
		expires, _ := time.Parse(time.RFC3339, list[2].ExpiresAt)
		if d := expires.Sub(created); d != s.Config.SessionMaxAge {
			t.Errorf("expires_at - created_at = %s, want the absolute lifetime %s", d, s.Config.SessionMaxAge)
		}

		// Revoked sessions are not listed.
		wantStatusCode(t, s.Do(t, "DELETE", "/v1/sessions/"+first.SessionID, nil, apitest.Bearer(first.AccessToken)), 204, "")
		if list := s.Sessions(t, third.AccessToken); len(list) != 2 {
			t.Fatalf("after revoking one: %d sessions, want 2", len(list))
		}
		wantStatusCode(t, s.Do(t, "GET", "/v1/sessions", nil), 401, "invalid_token")
	})
}

func TestSessions_LastUsedMovesOnEveryRefresh(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock}, func(t *testing.T, s *apitest.Server) {
		email, a := s.NewUser(t, "lastused")
		clock.Advance(time.Minute)
		b := s.LoginWith(t, email, nil)
		for i := 0; i < 2; i++ {
			clock.Advance(time.Minute)
			a = s.MustRefresh(t, a.RefreshToken)
			list := s.Sessions(t, b.AccessToken)
			if list[0].ID != a.SessionID {
				t.Fatalf("refresh %d: first listed = %s, want the refreshed %s", i, list[0].ID, a.SessionID)
			}
			if want := clock.Now().UTC().Format(time.RFC3339); list[0].LastUsedAt != want {
				t.Fatalf("refresh %d: last_used_at = %s, want %s", i, list[0].LastUsedAt, want)
			}
		}
	})
}

func TestSessions_Rename(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, tok := s.NewUser(t, "rename", apitest.UA(uaChromeWindows))
		path := "/v1/sessions/" + tok.SessionID
		bearer := apitest.Bearer(tok.AccessToken)

		r := s.Do(t, "PATCH", path, map[string]string{"device_name": "  Kitchen tablet  "}, bearer)
		if r.Status != 200 {
			t.Fatalf("rename = %d %s", r.Status, r.Body)
		}
		var got apitest.Session
		r.JSON(t, &got)
		if got.DeviceName != "Kitchen tablet" || !got.Current || got.ID != tok.SessionID || got.Browser != "Chrome" {
			t.Fatalf("rename answered %+v", got)
		}
		if list := s.Sessions(t, tok.AccessToken); list[0].DeviceName != "Kitchen tablet" {
			t.Fatalf("listed name = %q", list[0].DeviceName)
		}

		long := strings.Repeat("ä", 100)
		if r := s.Do(t, "PATCH", path, map[string]string{"device_name": long}, bearer); r.Status != 200 {
			t.Fatalf("100 characters = %d %s, want 200", r.Status, r.Body)
		}
		bad := []any{
			map[string]string{"device_name": long + "x"},
			map[string]string{"device_name": "   "},
			map[string]string{"device_name": "\u200b\u2060\ufeff\u00ad"},
			map[string]string{"device_name": " \x1b\u202e\t\u3164 "},
			map[string]string{},
			map[string]any{"device_name": 5},
			map[string]string{"device_name": "ok", "extra": "x"},
		}
		for _, body := range bad {
			wantStatusCode(t, s.Do(t, "PATCH", path, body, bearer), 400, "invalid_request")
		}
		if list := s.Sessions(t, tok.AccessToken); list[0].DeviceName != long {
			t.Fatalf("a refused rename changed the name to %q", list[0].DeviceName)
		}

		// The same rules hold for device_name at login.
		email, _ := s.NewUser(t, "rename-login")
		for _, name := range []string{long + "x", "\u200b", "\u202e\u2066\r\n"} {
			r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": apitest.Password, "device_name": name})
			wantStatusCode(t, r, 400, "invalid_request")
		}
	})
}

// Device names are clean text: control and format characters are removed,
// white space collapsed, on PATCH and at login; the cleaned name is what is
// stored and shown.
func TestSessions_DeviceNamesAreCleaned(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	email, tok := s.NewUser(t, "clean")
	tests := []struct{ in, want string }{
		{"tab\x1b[31m", "tab[31m"},
		{"line\nbreak", "line break"},
		{"evil\u202etxt.exe", "eviltxt.exe"},
		{"Pho\u200bne  of \u2060Lena\u00ad", "Phone of Lena"},
		{" \ufeffWork \t laptop\u3000", "Work laptop"},
		{"Kitchen\u2028tablet", "Kitchen tablet"},
	}
	bearer := apitest.Bearer(tok.AccessToken)
	for _, tt := range tests {
		r := s.Do(t, "PATCH", "/v1/sessions/"+tok.SessionID, map[string]string{"device_name": tt.in}, bearer)
		if r.Status != http.StatusOK {
			t.Fatalf("PATCH device_name %q = %d %s, want 200", tt.in, r.Status, r.Body)
		}
		var got apitest.Session
		r.JSON(t, &got)
		if got.DeviceName != tt.want {
			t.Errorf("PATCH device_name %q answered %q, want %q", tt.in, got.DeviceName, tt.want)
		}
		login := s.LoginWith(t, email, map[string]any{"device_name": tt.in})
		for _, d := range s.Sessions(t, login.AccessToken) {
			if (d.ID == login.SessionID || d.ID == tok.SessionID) && d.DeviceName != tt.want {
				t.Errorf("device_name %q stored as %q (session %s), want %q", tt.in, d.DeviceName, d.ID, tt.want)
			}
		}
	}
}

func TestSessions_RevokeOne(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		email, a := s.NewUser(t, "revoke-one", apitest.UA(uaChromeWindows))
		b := s.LoginWith(t, email, nil, apitest.UA(uaFirefoxLinux))
		c := s.LoginWith(t, email, nil, apitest.UA(uaSafariIPhone))

		// Signing out another device needs a fresh token.
		stale := refreshed(t, s, a)
		a.RefreshToken = stale.RefreshToken
		wantStatusCode(t, s.Do(t, "DELETE", "/v1/sessions/"+b.SessionID, nil, apitest.Bearer(stale.AccessToken)), 401, "fresh_token_required")
		if n := len(s.Sessions(t, a.AccessToken)); n != 3 {
			t.Fatalf("refused delete changed the sessions: %d", n)
		}
		// A fresh token (from the login) can.
		if r := s.Do(t, "DELETE", "/v1/sessions/"+b.SessionID, nil, apitest.Bearer(a.AccessToken)); r.Status != 204 {
			t.Fatalf("delete b = %d %s, want 204", r.Status, r.Body)
		}
		wantStatusCode(t, s.Refresh(t, b.RefreshToken), 401, "session_revoked")
		wantStatusCode(t, s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(b.AccessToken)), 401, "session_revoked")
		// Deleting it again: it is no longer one of the active sessions.
		wantStatusCode(t, s.Do(t, "DELETE", "/v1/sessions/"+b.SessionID, nil, apitest.Bearer(a.AccessToken)), 404, "not_found")
		if got := revokeReasons(t, s.App.DB(), b.SessionID); !slices.Equal(got, []string{"user_revoked"}) {
			t.Fatalf("events of b = %v, want one user_revoked", got)
		}

		// The others still work.
		for _, tok := range []apitest.Tokens{a, c} {
			if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)); r.Status != 200 {
				t.Fatalf("other session /v1/me = %d", r.Status)
			}
		}
		s.MustRefresh(t, c.RefreshToken)

		// Its own session needs no fresh token: that is a logout.
		wantStatusCode(t, s.Do(t, "DELETE", "/v1/sessions/"+a.SessionID, nil, apitest.Bearer(stale.AccessToken)), 204, "")
		wantStatusCode(t, s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(stale.AccessToken)), 401, "session_revoked")
		wantStatusCode(t, s.Refresh(t, a.RefreshToken), 401, "session_revoked")
	})
}

func TestSessions_RevokeOthersAndAll(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		email, a := s.NewUser(t, "revoke-many")
		b := s.LoginWith(t, email, nil)
		c := s.LoginWith(t, email, nil)
		bearer := apitest.Bearer(a.AccessToken)

		for _, q := range []string{"", "?scope=", "?scope=mine", "?scope=others&scope=all", "?Scope=all"} {
			wantStatusCode(t, s.Do(t, "DELETE", "/v1/sessions"+q, nil, bearer), 400, "invalid_request")
		}
		stale := refreshed(t, s, a)
		for _, scope := range []string{"others", "all"} {
			wantStatusCode(t, s.Do(t, "DELETE", "/v1/sessions?scope="+scope, nil, apitest.Bearer(stale.AccessToken)), 401, "fresh_token_required")
		}
		if n := len(s.Sessions(t, stale.AccessToken)); n != 3 {
			t.Fatalf("refused deletes changed the sessions: %d left", n)
		}

		r := s.Do(t, "DELETE", "/v1/sessions?scope=others", nil, bearer)
		if r.Status != 200 || string(r.Body) != `{"revoked":2}` {
			t.Fatalf("scope=others = %d %s, want 200 {\"revoked\":2}", r.Status, r.Body)
		}
		for _, tok := range []apitest.Tokens{b, c} {
			wantStatusCode(t, s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)), 401, "session_revoked")
			wantStatusCode(t, s.Refresh(t, tok.RefreshToken), 401, "session_revoked")
			if got := revokeReasons(t, s.App.DB(), tok.SessionID); !slices.Equal(got, []string{"revoked_others"}) {
				t.Fatalf("events = %v, want one revoked_others", got)
			}
		}
		if list := s.Sessions(t, a.AccessToken); len(list) != 1 || !list[0].Current {
			t.Fatalf("after scope=others: %+v, want only the current session", list)
		}

		d := s.LoginWith(t, email, nil)
		r = s.Do(t, "DELETE", "/v1/sessions?scope=all", nil, apitest.Bearer(d.AccessToken))
		if r.Status != 200 || string(r.Body) != `{"revoked":2}` {
			t.Fatalf("scope=all = %d %s, want 200 {\"revoked\":2}", r.Status, r.Body)
		}
		for _, tok := range []apitest.Tokens{stale, d} {
			wantStatusCode(t, s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)), 401, "session_revoked")
			wantStatusCode(t, s.Refresh(t, tok.RefreshToken), 401, "session_revoked")
		}
		if got := revokeReasons(t, s.App.DB(), a.SessionID); !slices.Equal(got, []string{"revoked_others"}) {
			t.Errorf("events of a = %v, want revoked_others", got)
		}
		if got := revokeReasons(t, s.App.DB(), d.SessionID); !slices.Equal(got, []string{"logout"}) {
			t.Errorf("events of the caller's own session = %v, want logout", got)
		}
	})
}

// dbSnapshot is every row that a sessions endpoint could change.
func dbSnapshot(t *testing.T, db *models.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"sessions", "refresh_tokens", "security_events", "users"} {
		fmt.Fprintf(&b, "%s:\n%s", table, dumpTable(t, db, table))
	}
	return b.String()
}

// dumpTable returns every row of table as text, in a stable order.
func dumpTable(t *testing.T, db *models.DB, table string) string {
	t.Helper()
	return dumpRows(t, db, "SELECT * FROM "+table+" ORDER BY id")
}

// dumpRows returns every row of a query as text.
func dumpRows(t *testing.T, db *models.DB, query string) string {
	t.Helper()
	rows, err := db.SQL().Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			fmt.Fprintf(&b, "%s=%s|", cols[i], v)
		}
		b.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSessions_OtherUsersSessionIsNotFound(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, alice := s.NewUser(t, "alice")
		_, bob := s.NewUser(t, "bob")
		// Alice's token is fresh, so the freshness rule is not what stops her.
		bearer := apitest.Bearer(alice.AccessToken)
		random := uuid.NewString()
		before := dbSnapshot(t, s.App.DB())

		for _, tc := range []struct {
			method string
			body   any
		}{
			{"PATCH", map[string]string{"device_name": "mine now"}},
			{"DELETE", nil},
		} {
			foreign := s.Do(t, tc.method, "/v1/sessions/"+bob.SessionID, tc.body, bearer)
			unknown := s.Do(t, tc.method, "/v1/sessions/"+random, tc.body, bearer)
			malformed := s.Do(t, tc.method, "/v1/sessions/not-a-uuid", tc.body, bearer)
			wantStatusCode(t, foreign, 404, "not_found")
			if string(foreign.Body) != string(unknown.Body) || string(foreign.Body) != string(malformed.Body) {
				t.Errorf("%s: another user's session answers %s, a random id %s, a malformed id %s; want identical bodies",
					tc.method, foreign.Body, unknown.Body, malformed.Body)
			}
			for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control"} {
				if foreign.Header.Get(h) != unknown.Header.Get(h) {
					t.Errorf("%s: header %s differs: %q vs %q", tc.method, h, foreign.Header.Get(h), unknown.Header.Get(h))
				}
			}
		}
		// The list shows only Alice's; signing out "all" reaches only hers.
		for _, ss := range s.Sessions(t, alice.AccessToken) {
			if ss.ID == bob.SessionID {
				t.Fatal("Bob's session is listed for Alice")
			}
		}
		if after := dbSnapshot(t, s.App.DB()); after != before {
			t.Fatalf("requests on another user's session changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		r := s.Do(t, "DELETE", "/v1/sessions?scope=all", nil, bearer)
		if r.Status != 200 || string(r.Body) != `{"revoked":1}` {
			t.Fatalf("alice scope=all = %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(bob.AccessToken)); r.Status != 200 {
			t.Fatalf("bob after alice's scope=all: /v1/me = %d", r.Status)
		}
		s.MustRefresh(t, bob.RefreshToken)
		if got := revokeReasons(t, s.App.DB(), bob.SessionID); len(got) != 0 {
			t.Fatalf("bob's session has revocation events %v", got)
		}
	})
}

func TestSessions_Limit(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock, Env: map[string]string{"AUTHD_MAX_SESSIONS": "3"}}, func(t *testing.T, s *apitest.Server) {
		email, first := s.NewUser(t, "limit")
		clock.Advance(time.Second)
		second := s.LoginWith(t, email, nil)
		clock.Advance(time.Second)
		third := s.LoginWith(t, email, nil)
		clock.Advance(time.Second)
		// Using the first makes the second the least recently used.
		first = s.MustRefresh(t, first.RefreshToken)
		clock.Advance(time.Second)
		fourth := s.LoginWith(t, email, nil)

		list := s.Sessions(t, fourth.AccessToken)
		var ids []string
		for _, ss := range list {
			ids = append(ids, ss.ID)
		}
		if want := []string{fourth.SessionID, first.SessionID, third.SessionID}; !slices.Equal(ids, want) {
			t.Fatalf("active sessions = %v, want %v", ids, want)
		}
		wantStatusCode(t, s.Refresh(t, second.RefreshToken), 401, "session_revoked")
		wantStatusCode(t, s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(second.AccessToken)), 401, "session_revoked")
		if got := revokeReasons(t, s.App.DB(), second.SessionID); !slices.Equal(got, []string{"session_limit"}) {
			t.Fatalf("events = %v, want session_limit", got)
		}
	})
}

func TestSessions_ParallelLoginsNeverExceedLimit(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "postgres", Env: map[string]string{
		// 30 logins queue on one user row and on bcrypt: on a loaded CI machine
		// the default waits (3 s lock, 2 s bcrypt) would answer 503 by design.
		"AUTHD_DB_LOCK_TIMEOUT": "60s", "AUTHD_BCRYPT_WAIT": "60s", "AUTHD_REQUEST_TIMEOUT": "120s",
	}}) // default AUTHD_MAX_SESSIONS=20
	email, _ := s.NewUser(t, "parallel")
	var userID string
	testdb.Must(t, s.App.DB().Raw("SELECT id FROM users WHERE email = ?", email).Scan(&userID).Error)
	countActive := func() int64 {
		return testdb.Count(t, s.App.DB(), "SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", userID)
	}

	stop := make(chan struct{})
	var maxSeen int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int64
			if err := s.App.DB().Raw("SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", userID).Scan(&n).Error; err == nil {
				maxSeen = max(maxSeen, n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan string, 30)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": apitest.Password})
			if r.Status != 200 {
				errs <- fmt.Sprintf("%d %s", r.Status, r.Body)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for e := range errs {
		t.Errorf("parallel login: %s", e)
	}
	if n := countActive(); n != 20 {
		t.Fatalf("active sessions after 31 logins = %d, want 20", n)
	}
	if maxSeen > 20 {
		t.Fatalf("saw %d active sessions during the logins, want at most 20", maxSeen)
	}
	limited := testdb.Count(t, s.App.DB(), "SELECT count(*) FROM security_events WHERE user_id = ? AND reason = 'session_limit'", userID)
	if limited != 11 {
		t.Fatalf("session_limit events = %d, want 11", limited)
	}
}
