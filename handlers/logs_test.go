package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/internal/testutil"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
)

// LOG-02: a full scenario leaves no password, refresh token, refresh
// secret, access token or full client address in any log line or any
// database row.
func TestLogs_NoSecretsInLogsOrTables(t *testing.T) {
	const clientIP = "203.0.113.77"
	var logs testutil.SyncBuffer
	s := apitest.New(t, apitest.Options{Logs: &logs, Env: map[string]string{
		"AUTHD_LOG_LEVEL":          "debug",
		"AUTHD_REUSE_GRACE":        "0s",
		"AUTHD_TRUSTED_PROXIES":    "127.0.0.1/32,::1/128",
		"AUTHD_RETENTION_INTERVAL": "0s",
	}})
	xff := apitest.XFF(clientIP)
	ua := apitest.UA("scenario-agent/2.0")
	email := "scenario@example.com"
	pw1, pw2, wrong := "first Secret passphrase 41", "second Secret passphrase 42", "wrong Secret passphrase 43"
	var secrets []string
	keep := func(tok apitest.Tokens) apitest.Tokens {
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
		if _, secret, ok := strings.Cut(tok.RefreshToken, "."); ok {
			secrets = append(secrets, secret)
		}
		if parts := strings.Split(tok.AccessToken, "."); len(parts) == 3 {
			secrets = append(secrets, parts[2]) // the signature
		}
		return tok
	}
	expect := func(r *apitest.Response, status int, what string) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s = %d %s, want %d", what, r.Status, r.Body, status)
		}
	}
	login := func(pw string) apitest.Tokens {
		t.Helper()
		return keep(s.Login(t, email, pw, xff, ua))
	}

	expect(s.Do(t, "POST", "/v1/auth/register", map[string]string{"email": email, "password": pw1}, xff, ua), 201, "register")
	first := login(pw1)
	r := s.Do(t, "POST", "/v1/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}, xff, ua)
	expect(r, 200, "refresh")
	var rotated apitest.Tokens
	r.JSON(t, &rotated)
	keep(rotated)
	expect(s.Refresh(t, first.RefreshToken, xff, ua), 401, "reuse")
	second := login(pw1)
	expect(s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": second.RefreshToken}, xff, ua), 204, "logout")
	third := login(pw1)
	expect(s.Do(t, "POST", "/v1/me/password", map[string]string{"current_password": pw1, "new_password": pw2},
		apitest.Bearer(third.AccessToken), xff, ua), 204, "password change")
	expect(s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": wrong}, xff, ua), 401, "failed login")
	fourth := login(pw2)
	expect(s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(fourth.AccessToken), xff, ua), 200, "me")
	metrics := s.Do(t, "GET", "/metrics", nil)
	expect(metrics, http.StatusOK, "metrics")

	haystacks := map[string]string{"logs": logs.String(), "/metrics": string(metrics.Body)}
	db := s.App.DB()
	for _, table := range []string{"users", "sessions", "refresh_tokens", "security_events", "server_keys"} {
		var rows []string
		testdb.Must(t, db.Raw("SELECT row_to_json(t)::text FROM "+table+" t").Scan(&rows).Error)
		if len(rows) == 0 && table != "server_keys" {
			t.Fatalf("table %s is empty: the scenario did not run", table)
		}
		haystacks["table "+table] = strings.Join(rows, "\n")
	}
	if !strings.Contains(haystacks["table security_events"], "203.0.113.0/24") ||
		!strings.Contains(haystacks["logs"], `"msg":"security event"`) {
		t.Fatal("the events or their log lines are missing the client's prefix: the search below would prove nothing")
	}
	needles := append([]string{pw1, pw2, wrong, clientIP}, secrets...)
	for where, hay := range haystacks {
		for _, n := range needles {
			if strings.Contains(hay, n) {
				t.Errorf("%s contains the secret or address %.12q…", where, n)
			}
		}
	}
}

// The access log gives each request's duration in milliseconds as a JSON
// number (duration_ms), the unit dashboards and log tools expect, not Go's
// nanosecond integer.
func TestLogs_RequestDurationInMilliseconds(t *testing.T) {
	var logs testutil.SyncBuffer
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Logs: &logs, Env: map[string]string{
		"AUTHD_LOG_LEVEL": "info", "AUTHD_LOG_FORMAT": "json"}})
	if r := s.Do(t, "GET", "/healthz", nil); r.Status != http.StatusOK {
		t.Fatalf("GET /healthz = %d", r.Status)
	}
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["msg"] != "request" || entry["route"] != "/healthz" {
			continue
		}
		found = true
		ms, ok := entry["duration_ms"].(float64)
		if !ok || ms < 0 || ms > 60_000 {
			t.Errorf("request line duration_ms = %#v, want milliseconds as a number", entry["duration_ms"])
		}
		if _, ok := entry["latency"]; ok {
			t.Errorf("request line still has latency (nanoseconds): %s", line)
		}
	}
	if !found {
		t.Fatalf("no access-log line for GET /healthz in:\n%s", logs.String())
	}
}
