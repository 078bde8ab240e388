package handlers_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
)

// deviceCookie returns the device cookie a response sets, or nil.
func deviceCookie(t *testing.T, r *apitest.Response) *http.Cookie {
	t.Helper()
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == "authd_device" || c.Name == "__Host-authd_device" {
			return c
		}
	}
	return nil
}

// Issue 15 item 4: a known device keeps its own login budget. A login
// answers a device token (body, or the device cookie); presenting it for the
// same account spends the device's failure budget instead of the account's;
// it signs nobody in, is nothing for another account, survives the user's
// own sign-outs and password change, and dies with an admin revocation.
func TestLogin_DeviceTokens(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: map[string]string{
		"AUTHD_RATE_LOGIN_ACCOUNT": "2-M", "AUTHD_RATE_LOGIN_DEVICE": "2-M",
	}}, func(t *testing.T, s *apitest.Server) {
		db := s.App.DB()
		email, owner := s.NewUser(t, "owner")
		body := owner.DeviceToken
		if len(body) != 66 {
			t.Fatalf("device_token = %q, want an opaque 22+1+43 character token", body)
		}
		// Stored hashed: the row holds SHA-256 of the secret, never the token.
		var hash []byte
		testdb.Must(t, db.Raw("SELECT secret_hash FROM device_tokens WHERE user_id = ?", owner.User.ID).Row().Scan(&hash))
		secret, _ := base64.RawURLEncoding.DecodeString(body[23:])
		if sum := sha256.Sum256(secret); !bytes.Equal(hash, sum[:]) || len(secret) != 32 {
			t.Fatalf("stored secret_hash = %x, want SHA-256 of the 256-bit secret", hash)
		}

		// Cookie delivery: the device token is the device cookie, not a field.
		r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": apitest.Password, "token_delivery": "cookie"})
		c := deviceCookie(t, r)
		if r.Status != http.StatusOK || c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" ||
			c.Secure || c.Domain != "" || c.MaxAge != 90*24*3600 || c.Value == "" {
			t.Fatalf("cookie login = %d, device cookie %+v; want authd_device HttpOnly SameSite=Strict Path=/ for 90 days", r.Status, c)
		}
		if strings.Contains(string(r.Body), "device_token") {
			t.Fatalf("cookie login put the device token in the body too: %s", r.Body)
		}
		cookie := apitest.Header{Name: "Cookie", Value: c.Name + "=" + c.Value}

		login := func(pw string, h ...apitest.Header) *apitest.Response {
			return s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": pw}, h...)
		}
		// A browser: cookie delivery, the device cookie it holds.
		browserLogin := func(pw string) *apitest.Response {
			r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": pw, "token_delivery": "cookie"}, cookie)
			if c := deviceCookie(t, r); c != nil {
				cookie.Value = c.Name + "=" + c.Value
			}
			return r
		}
		withToken := func(tok, pw string) *apitest.Response {
			return s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": pw, "device_token": tok})
		}
		for i := 0; i < 2; i++ {
			if r := login("attacker guess 123"); r.Status != http.StatusUnauthorized {
				t.Fatalf("attacker's guess = %d %s", r.Status, r.Body)
			}
		}
		if r := login(apitest.Password); r.Status != http.StatusTooManyRequests {
			t.Fatalf("login without a device token = %d, want 429 once the account's budget is spent", r.Status)
		}

		// A device token never signs in by itself.
		if r := withToken(body, "wrong password 123"); r.Status != http.StatusUnauthorized {
			t.Fatalf("device token with a wrong password = %d %s, want 401", r.Status, r.Body)
		}
		r = withToken(body, apitest.Password)
		if r.Status != http.StatusOK {
			t.Fatalf("known-device login (body) = %d %s, want 200 with the account's budget spent", r.Status, r.Body)
		}
		var next apitest.Tokens
		r.JSON(t, &next)
		if next.DeviceToken == "" || next.DeviceToken == body {
			t.Fatalf("known-device login answered device_token %q, want a new one", next.DeviceToken)
		}
		// The presented token was replaced: one token per device.
		if r := withToken(body, apitest.Password); r.Status != http.StatusTooManyRequests {
			t.Fatalf("login with the replaced device token = %d, want 429 (counted as without one)", r.Status)
		}
		if r := browserLogin(apitest.Password); r.Status != http.StatusOK {
			t.Fatalf("known-device login (cookie) = %d %s, want 200", r.Status, r.Body)
		} else if deviceCookie(t, r) == nil {
			t.Fatal("known-device cookie login set no new device cookie")
		}

		// The device's own budget bites: its failures are limited too.
		withToken(next.DeviceToken, "wrong password 123")
		withToken(next.DeviceToken, "wrong password 123")
		if r := withToken(next.DeviceToken, apitest.Password); r.Status != http.StatusTooManyRequests || r.Code() != "rate_limited" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("device past its own budget = %d %s, want 429 rate_limited with Retry-After", r.Status, r.Body)
		}

		// Useless for any other account.
		other, _ := s.NewUser(t, "other")
		for i := 0; i < 2; i++ {
			s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": other, "password": "wrong password 123"})
		}
		if r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": other, "password": apitest.Password}, cookie); r.Status != http.StatusTooManyRequests {
			t.Fatalf("another account with the owner's device cookie = %d, want 429 (its own spent budget)", r.Status)
		}

		// The user's own sign-out of every session and a password change
		// keep the device token.
		r = browserLogin(apitest.Password)
		var tok apitest.Tokens
		r.JSON(t, &tok)
		if r := s.Do(t, "DELETE", "/v1/sessions?scope=all", nil, apitest.Bearer(tok.AccessToken)); r.Status != http.StatusOK {
			t.Fatalf("sign out everywhere = %d %s", r.Status, r.Body)
		}
		r = browserLogin(apitest.Password)
		if r.Status != http.StatusOK {
			t.Fatalf("known-device login after signing out everywhere = %d %s, want 200", r.Status, r.Body)
		}
		r.JSON(t, &tok)
		newPassword := "owner's new passphrase 2026"
		if r := s.Do(t, "POST", "/v1/me/password", map[string]string{"current_password": apitest.Password, "new_password": newPassword},
			apitest.Bearer(tok.AccessToken)); r.Status != http.StatusNoContent {
			t.Fatalf("password change = %d %s", r.Status, r.Body)
		}
		if r := browserLogin(newPassword); r.Status != http.StatusOK {
			t.Fatalf("known-device login after the password change = %d %s, want 200", r.Status, r.Body)
		}

		// An admin revocation of all the user's sessions ends its devices too.
		_, admin := newAdmin(t, s)
		if r := s.Do(t, "DELETE", "/v1/admin/users/"+owner.User.ID+"/sessions", nil, apitest.Bearer(admin.AccessToken)); r.Status != http.StatusOK {
			t.Fatalf("admin revocation = %d %s", r.Status, r.Body)
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM device_tokens WHERE user_id = ?", owner.User.ID); n != 0 {
			t.Errorf("%d device tokens left after the admin revocation, want 0", n)
		}
		if r := browserLogin(newPassword); r.Status != http.StatusTooManyRequests {
			t.Fatalf("login with a device token revoked by the admin = %d, want 429 (the account's spent budget)", r.Status)
		}
	})
}

// Issue 15 item 3: every failed password proof (login, re-authentication,
// the current password of a password change) is a login_failed event with
// details.kind and, for a signed-in session, its session id; the admin
// listing and the CSV export show them.
func TestSecurityEvents_FailedPasswordProofs(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, admin := newAdmin(t, s)
		email, tok := s.NewUser(t, "proofs")
		if r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": "wrong password 123"}); r.Status != 401 {
			t.Fatalf("wrong login = %d", r.Status)
		}
		if r := s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": "wrong password 123"}, apitest.Bearer(tok.AccessToken)); r.Status != 401 {
			t.Fatalf("wrong re-authentication = %d", r.Status)
		}
		if r := s.Do(t, "POST", "/v1/me/password", map[string]string{"current_password": "wrong password 123", "new_password": "a brand new passphrase 77"},
			apitest.Bearer(tok.AccessToken)); r.Status != 401 || r.Code() != "invalid_credentials" {
			t.Fatalf("wrong current password = %d %s", r.Status, r.Body)
		}
		got := listEvents(t, s, admin.AccessToken, url.Values{"type": {"login_failed"}, "user_id": {tok.User.ID}})
		var kinds []string
		for _, e := range got.Events {
			kind, _ := e.Details["kind"].(string)
			kinds = append(kinds, kind)
			wantSession := kind != "login"
			if hasSession := e.SessionID != nil && *e.SessionID == tok.SessionID; hasSession != wantSession {
				t.Errorf("%s event session_id = %v, want the session: %v", kind, e.SessionID, wantSession)
			}
			if e.IPPrefix != "127.0.0.0/24" {
				t.Errorf("%s event ip_prefix = %q, want the client's", kind, e.IPPrefix)
			}
		}
		if strings.Join(kinds, ",") != "password_change,reauthenticate,login" {
			t.Fatalf("login_failed kinds, newest first = %v, want password_change, reauthenticate, login", kinds)
		}
		if got := listEvents(t, s, admin.AccessToken, url.Values{"type": {"login_failed"}, "session_id": {tok.SessionID}}); len(got.Events) != 2 {
			t.Errorf("login_failed events of the session = %d, want 2", len(got.Events))
		}
		csvBody, _ := getCSV(t, s, admin.AccessToken, url.Values{"type": {"login_failed"}, "user_id": {tok.User.ID}})
		recs, err := csv.NewReader(bytes.NewReader(csvBody)).ReadAll()
		if err != nil || len(recs) != 4 {
			t.Fatalf("CSV export = %v rows, %v:\n%s", len(recs), err, csvBody)
		}
		kinds = nil
		for _, rec := range recs[1:] {
			var d map[string]string
			if err := json.Unmarshal([]byte(rec[9]), &d); err != nil {
				t.Fatalf("CSV details %q: %v", rec[9], err)
			}
			kinds = append(kinds, d["kind"])
		}
		if strings.Join(kinds, ",") != "password_change,reauthenticate,login" {
			t.Errorf("CSV login_failed kinds = %v, want password_change, reauthenticate, login", kinds)
		}
	})
}
