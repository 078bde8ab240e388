package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/internal/apitest"
)

// dbState is what no rejected request may change: accounts, live sessions,
// refresh tokens and their rotation, device tokens, and every security event
// but the login_failed that a well-formed wrong password rightly leaves.
func dbState(t testing.TB, s *apitest.Server) string {
	t.Helper()
	var st struct{ Users, Live, Tokens, Used, Events, Devices int64 }
	db := s.App.DB().DB
	err := db.Raw(`SELECT
		(SELECT count(*) FROM users) AS users,
		(SELECT count(*) FROM sessions WHERE revoked_at IS NULL) AS live,
		(SELECT count(*) FROM refresh_tokens) AS tokens,
		(SELECT count(*) FROM refresh_tokens WHERE rotated_at IS NOT NULL OR revoked_at IS NOT NULL) AS used,
		(SELECT count(*) FROM security_events WHERE type <> 'login_failed') AS events,
		(SELECT count(*) FROM device_tokens) AS devices`).Scan(&st).Error
	if err != nil {
		t.Fatalf("read database state: %v", err)
	}
	return fmt.Sprintf("%+v", st)
}

// FuzzHostileRequests sends whatever the fuzzer makes to the token
// endpoints of a real instance (and /oauth/token): the answer is never a
// 5xx, every error outside /oauth/ is a problem (checked by apitest's
// validators), and nothing in the database changes.
func FuzzHostileRequests(f *testing.F) {
	s := apitest.New(f, apitest.Options{Dialect: "sqlite"})
	email, tok := s.NewUser(f, "fuzz")
	// The real device token of the account: with a wrong password it must
	// sign nobody in and change nothing.
	device := tok.DeviceToken
	id, _, _ := strings.Cut(tok.RefreshToken, ".")
	// The real session's id with a wrong secret: known id, no change.
	wrongSecret := id + "." + strings.Repeat("A", 43)
	for _, seed := range []struct {
		endpoint    uint8
		contentType string
		body        string
	}{
		{0, "application/json", `{"email":"nobody@example.com","password":"wrong password 123"}`},
		{0, "application/json", `{"email":"nobody@example.com","password":"p","device_name":"\u202e","client_id":"` + strings.Repeat("x", 101) + `"}`},
		{0, "application/json", `{"email":"` + strings.Repeat("a", 300) + `@example.com","password":"p"}`},
		{0, "text/plain", `email=a&password=b`},
		{0, "application/json", `{"email":"` + email + `","password":"wrong password 123","device_token":"` + device + `"}`},
		{0, "application/json", `{"email":"nobody@example.com","password":"p","device_token":"` + device + `"}`},
		{0, "application/json", `{"email":"` + email + `","password":"p","device_token":"` + strings.Repeat("A", 22) + "." + strings.Repeat("A", 43) + `"}`},
		{1, "application/json", `{"refresh_token":"` + wrongSecret + `"}`},
		{1, "application/json", `{"refresh_token":"` + id + `"}`},
		{1, "application/json", `{"refresh_token":"..","token_delivery":"cookie"}`},
		{1, "", ``},
		{2, "application/json", `{"refresh_token":"` + wrongSecret + `"}`},
		{2, "application/json", `{"refresh_token":12}`},
		{3, "application/json", `{"password":"not the password"}`},
		{3, "application/json", `{"password":"` + strings.Repeat("p", 100) + `"}`},
		{3, "application/json", `{"password":null}`},
		{4, "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" + wrongSecret},
		{4, "application/x-www-form-urlencoded", "grant_type=password&username=a&password=b"},
		{4, "application/x-www-form-urlencoded", "grant_type=refresh_token&grant_type=refresh_token&refresh_token=%zz"},
	} {
		f.Add(seed.endpoint, seed.contentType, []byte(seed.body))
	}
	paths := []string{"/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout", "/v1/auth/reauthenticate", "/oauth/token"}
	before := dbState(f, s)
	f.Fuzz(func(t *testing.T, endpoint uint8, contentType string, body []byte) {
		path := paths[int(endpoint)%len(paths)]
		req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		// The client refuses to send control characters in a header;
		// everything else goes out as the fuzzer made it.
		req.Header["Content-Type"] = []string{strings.Map(func(r rune) rune {
			if (r < 0x20 && r != '\t') || r == 0x7f {
				return -1
			}
			return r
		}, contentType)}
		if path == "/v1/auth/reauthenticate" {
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		}
		r := s.Send(t, req, body)
		if r.Status >= 500 {
			t.Fatalf("POST %s (%q, %q) = %d %s, want a 4xx", path, contentType, body, r.Status, r.Body)
		}
		if after := dbState(t, s); after != before {
			t.Fatalf("POST %s (%q, %q) = %d changed the database: %s, was %s", path, contentType, body, r.Status, after, before)
		}
	})
}
