package handlers_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/authd/authd/internal/apitest"
)

func TestCORS(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite",
		Env: map[string]string{"AUTHD_CORS_ORIGINS": "https://app.example.com, https://Admin.example.com/"}})
	origin := func(o string) apitest.Header { return apitest.Header{Name: "Origin", Value: o} }

	for _, o := range []string{"https://app.example.com", "https://admin.example.com"} {
		r := s.Do(t, "GET", "/healthz", nil, origin(o))
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != o {
			t.Errorf("Origin %s: ACAO = %q, want it echoed", o, got)
		}
		if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Errorf("Origin %s: ACAC = %q, want true", o, got)
		}
		if !slices.Contains(r.Header.Values("Vary"), "Origin") {
			t.Errorf("Origin %s: Vary = %v, want Origin", o, r.Header.Values("Vary"))
		}
	}
	for _, o := range []string{"https://evil.example", "null", "http://app.example.com", "https://app.example.com.evil.example",
		"https://app.example.com:8443", "https://evil.app.example.com", "*"} {
		r := s.Do(t, "GET", "/healthz", nil, origin(o))
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Origin %s: ACAO = %q, want none", o, got)
		}
		if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("Origin %s: ACAC = %q, want none", o, got)
		}
	}

	preflight := func(o string) *apitest.Response {
		return s.Do(t, "OPTIONS", "/v1/auth/refresh", nil, origin(o),
			apitest.Header{Name: "Access-Control-Request-Method", Value: "POST"},
			apitest.Header{Name: "Access-Control-Request-Headers", Value: "content-type,x-requested-with"})
	}
	r := preflight("https://app.example.com")
	if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		r.Header.Get("Access-Control-Allow-Credentials") != "true" || r.Header.Get("Access-Control-Allow-Methods") != "POST" ||
		!strings.Contains(strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")), "x-requested-with") {
		t.Errorf("preflight from a listed origin = %d %v", r.Status, r.Header)
	}
	for _, o := range []string{"https://evil.example", "null"} {
		r := preflight(o)
		if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("preflight from %s = %d %v, want no CORS headers", o, r.Status, r.Header)
		}
	}

	// An error answer to a listed origin is readable by the app too.
	r = s.Do(t, "GET", "/v1/me", nil, origin("https://app.example.com"))
	wantStatusCode(t, r, 401, "invalid_token")
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("401 to a listed origin has no ACAO")
	}

	// Without AUTHD_CORS_ORIGINS no origin is allowed.
	plain := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	r = plain.Do(t, "GET", "/healthz", nil, origin("https://app.example.com"))
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("no origins configured: ACAO = %q", got)
	}
}
