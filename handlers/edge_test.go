package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/internal/apitest"
)

// HTTP-04, HTTP-06, RL-07 and the contract's conventions.
func TestStrictJSON(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	big := `{"email":"a@example.com","password":"` + strings.Repeat("x", 65<<10) + `"}`
	tests := []struct {
		name, contentType, body string
		want                    int
		code                    string
	}{
		{"65 KiB body", "application/json", big, 413, "payload_too_large"},
		{"text/plain", "text/plain", `{"email":"a@example.com","password":"p"}`, 415, "unsupported_media_type"},
		{"no content type", "", `{"email":"a@example.com","password":"p"}`, 415, "unsupported_media_type"},
		{"unknown field", "application/json", `{"email":"a@example.com","password":"p","admin":true}`, 400, "invalid_request"},
		{"trailing garbage", "application/json", `{"email":"a@example.com","password":"p"} x`, 400, "invalid_request"},
		{"two objects", "application/json", `{"email":"a@example.com","password":"p"}{}`, 400, "invalid_request"},
		{"wrong type", "application/json", `{"email":"a@example.com","password":12}`, 400, "invalid_request"},
		{"not JSON", "application/json", `email=a`, 400, "invalid_request"},
		{"empty", "application/json", ``, 400, "invalid_request"},
		{"missing password", "application/json", `{"email":"a@example.com"}`, 400, "invalid_request"},
		{"charset is fine", "application/json; charset=utf-8", `{"email":"nobody@example.com","password":"wrong wrong 12"}`, 401, "invalid_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL+"/v1/auth/login", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := s.Send(t, req, []byte(tt.body))
			if r.Status != tt.want || r.Code() != tt.code {
				t.Fatalf("login(%s) = %d %.200s, want %d %s", tt.name, r.Status, r.Body, tt.want, tt.code)
			}
		})
	}
	if n := s.App.Hasher().Runs.Load(); n != 1 {
		t.Fatalf("bcrypt ran %d times, want 1 (only the well-formed login)", n)
	}
}

func TestRequestID(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	r := s.Do(t, "GET", "/healthz", nil, apitest.Header{Name: "X-Request-ID", Value: "abc-123.DEF_4"})
	if got := r.Header.Get("X-Request-ID"); got != "abc-123.DEF_4" {
		t.Fatalf("sane X-Request-ID echoed as %q", got)
	}
	for _, bad := range []string{"has space", strings.Repeat("a", 65), "<script>", "a;b"} {
		r := s.Do(t, "GET", "/healthz", nil, apitest.Header{Name: "X-Request-ID", Value: bad})
		if got := r.Header.Get("X-Request-ID"); got == bad || len(got) < 16 {
			t.Fatalf("X-Request-ID %q answered with %q, want a new id", bad, got)
		}
	}
	if r := s.Do(t, "GET", "/nowhere", nil); r.Header.Get("X-Request-ID") == "" || r.Status != 404 || r.Code() != "not_found" {
		t.Fatalf("unknown route = %d %s (request id %q)", r.Status, r.Body, r.Header.Get("X-Request-ID"))
	}
	if r := s.Do(t, "DELETE", "/v1/auth/login", nil); r.Status != 405 || r.Code() != "method_not_allowed" {
		t.Fatalf("DELETE /v1/auth/login = %d %s, want 405", r.Status, r.Body)
	}
}

// HTTP-02 and HTTP-05: a panic is a 500 problem that leaks nothing, and the
// process goes on.
func TestPanicIsAProblem(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Routes: func(r *gin.Engine) {
		r.GET("/test/panic", func(*gin.Context) { panic("SELECT secret FROM users /home/authd/main.go:42") })
	}})
	r := s.Do(t, "GET", "/test/panic", nil)
	if r.Status != 500 || r.Code() != "internal" {
		t.Fatalf("panic = %d %s, want 500 internal", r.Status, r.Body)
	}
	for _, leak := range []string{"SELECT", "main.go", "goroutine", "/home/", "panic"} {
		if strings.Contains(string(r.Body), leak) {
			t.Fatalf("500 body %s leaks %q", r.Body, leak)
		}
	}
	if r := s.Do(t, "GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("/healthz after a panic = %d, want 200", r.Status)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	if r := s.Do(t, "GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("/healthz = %d", r.Status)
	}
	if r := s.Do(t, "GET", "/readyz", nil); r.Status != 200 {
		t.Fatalf("/readyz = %d", r.Status)
	}
	if r := s.Do(t, "GET", "/v1/me", nil); r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("responses lack X-Content-Type-Options: nosniff")
	}
	s.App.DB().Close()
	if r := s.Do(t, "GET", "/readyz", nil); r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("/readyz with the database closed = %d (Retry-After %q), want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	if r := s.Do(t, "GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("/healthz with the database closed = %d, want 200", r.Status)
	}
}

func TestJWKS(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	r := s.Do(t, "GET", "/.well-known/jwks.json", nil)
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != `{"keys":[]}` {
		t.Fatalf("HS256 JWKS = %d %s, want {\"keys\":[]}", r.Status, r.Body)
	}
}

// Ambiguous JSON is refused before anything acts on it: a key twice (also in
// another case, which encoding/json would match) and text that is not valid
// UTF-8, raw or as a lone surrogate escape, which encoding/json would turn
// into U+FFFD and so silently change a password.
func TestStrictJSON_Ambiguous(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	s.Register(t, "ambiguous@example.com", apitest.Password)
	token := s.Login(t, "ambiguous@example.com", apitest.Password)
	runs := s.App.Hasher().Runs.Load()
	tests := []struct {
		name, method, path, body string
	}{
		{"duplicate password", "POST", "/v1/auth/login", `{"email":"ambiguous@example.com","password":"wrong password 1","password":"` + apitest.Password + `"}`},
		{"duplicate in another case", "POST", "/v1/auth/login", `{"email":"ambiguous@example.com","password":"wrong password 1","PASSWORD":"` + apitest.Password + `"}`},
		{"duplicate with the Kelvin sign", "POST", "/v1/auth/register", `{"email":"kelvin@example.com","password":"` + apitest.Password + "\",\"\u212aey\":1,\"key\":2}"},
		{"duplicate email on register", "POST", "/v1/auth/register", `{"email":"first@example.com","Email":"second@example.com","password":"` + apitest.Password + `"}`},
		{"invalid UTF-8 in the password", "POST", "/v1/auth/register", "{\"email\":\"utf8@example.com\",\"password\":\"correct horse \xff battery\"}"},
		{"invalid UTF-8 in a key", "POST", "/v1/auth/login", "{\"email\":\"ambiguous@example.com\",\"pass\xc3word\":\"x\"}"},
		{"lone high surrogate", "POST", "/v1/auth/register", `{"email":"surrogate@example.com","password":"correct horse \ud83d battery"}`},
		{"lone low surrogate", "POST", "/v1/auth/register", `{"email":"surrogate@example.com","password":"correct horse \udc00 battery"}`},
		{"reversed pair", "POST", "/v1/auth/register", `{"email":"surrogate@example.com","password":"correct horse \ude00\ud83d battery"}`},
		{"duplicate refresh token", "POST", "/v1/auth/refresh", `{"refresh_token":"a","refresh_token":"` + token.RefreshToken + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Do(t, tt.method, tt.path, tt.body)
			if r.Status != http.StatusBadRequest || r.Code() != "invalid_request" {
				t.Fatalf("%s %s %q = %d %s, want 400 invalid_request", tt.method, tt.path, tt.body, r.Status, r.Body)
			}
		})
	}
	// A duplicate in a signed-in endpoint is refused as well.
	r := s.Do(t, "PATCH", "/v1/sessions/"+token.SessionID, `{"device_name":"a","device_name":"b"}`, apitest.Bearer(token.AccessToken))
	if r.Status != http.StatusBadRequest || r.Code() != "invalid_request" {
		t.Fatalf("PATCH with device_name twice = %d %s, want 400 invalid_request", r.Status, r.Body)
	}
	if n := s.App.Hasher().Runs.Load(); n != runs {
		t.Fatalf("bcrypt ran %d times for ambiguous bodies, want 0", n-runs)
	}
	// Well-formed escapes, a real pair and a literal U+FFFD still pass.
	for i, pw := range []string{`correct horse \ud83d\ude00 battery`, `correct horse \ufffd battery`, "correct horse \ufffd battery \\\\ud800"} {
		body := fmt.Sprintf(`{"email":"fine%d@example.com","password":"%s"}`, i, pw)
		if r := s.Do(t, "POST", "/v1/auth/register", body); r.Status != http.StatusCreated {
			t.Fatalf("register %q = %d %s, want 201", body, r.Status, r.Body)
		}
	}
}
