// Package apitest runs real authd instances for black-box tests: the wired
// app behind an httptest server on loopback, on a fresh PostgreSQL schema or
// SQLite file, with an injectable clock. Every response passes through the
// registered validators; the built-in one checks that every error is RFC 9457
// problem+json whose status matches the HTTP status (HTTP-01).
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/handlers"
	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/testdb"
)

// Clock is a settable clock shared by the instances of a test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at the current time.
func NewClock() *Clock { return &Clock{t: time.Now().UTC().Truncate(time.Microsecond)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSecret is the HS256 secret of test instances.
const TestSecret = "test-secret-0123456789abcdef-0123456789"

// Options configure a test instance.
type Options struct {
	// Dialect is "postgres" (default) or "sqlite".
	Dialect string
	// Env overrides the test defaults (AUTHD_* variables).
	Env map[string]string
	// Clock, when set, drives every time decision of the instance.
	Clock *Clock
	// Skew, without Clock, puts the instance's own clock off by this much
	// (app.NewSkewed): its refreshes are still decided on the database's
	// clock on PostgreSQL.
	Skew time.Duration
	// DatabaseURL / SQLitePath share the database of another instance.
	DatabaseURL string
	SQLitePath  string
	// Logs receives the instance's log lines (default: discarded).
	Logs io.Writer
	// Routes, when set, adds test-only routes before the server starts.
	Routes func(*gin.Engine)
	// URLEnv names variables to set to the server's own URL (such as
	// AUTHD_SSF_ISSUER): the listener is bound before the instance loads
	// its configuration.
	URLEnv []string
}

// Server is a running authd instance.
type Server struct {
	App    *app.App
	URL    string
	Client *http.Client
	Config app.Config
	// DatabaseURL or SQLitePath, to start another instance on the same data.
	DatabaseURL string
	SQLitePath  string
	http        *httptest.Server
}

// DefaultEnv is the environment of test instances: fast bcrypt, a fixed
// secret, cookies without Secure (plain-HTTP test server).
func DefaultEnv() map[string]string {
	return map[string]string{
		"AUTHD_ENV":                "test",
		"AUTHD_JWT_SECRET":         TestSecret,
		"AUTHD_BCRYPT_COST":        "4",
		"AUTHD_COOKIE_SECURE":      "false",
		"AUTHD_LOG_LEVEL":          "warn",
		"AUTHD_RATE_LOGIN_IP":      "1000000-M",
		"AUTHD_RATE_LOGIN_ACCOUNT": "1000000-M",
		"AUTHD_RATE_REFRESH_IP":    "1000000-M",
		"AUTHD_RATE_REGISTER_IP":   "1000000-M",

		// The failures-only budgets of known devices and sessions.
		"AUTHD_RATE_LOGIN_DEVICE":   "1000000-M",
		"AUTHD_RATE_REAUTH_SESSION": "1000000-M",

		// The longest Redis call the limiter allows: on a loaded machine a
		// round trip can pass the 75 ms default, and the store then counts
		// locally, which the tests of limits shared across instances would
		// take for a broken limit. The tests of the timeout set their own.
		"AUTHD_RATE_STORE_TIMEOUT": "1s",
	}
}

// ServeEnv is DefaultEnv for an authd that serves on its own port (a
// subprocess, or cmd/authd's run): any free loopback port and info logs in
// JSON (for the "listening" line), then extra on top.
func ServeEnv(extra map[string]string) map[string]string {
	env := DefaultEnv()
	env["AUTHD_ADDR"] = "127.0.0.1:0"
	env["AUTHD_LOG_LEVEL"] = "info"
	env["AUTHD_LOG_FORMAT"] = "json"
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// Config returns the configuration a test instance with opts would load.
func (o Options) config(t testing.TB) app.Config {
	t.Helper()
	env := DefaultEnv()
	for k, v := range o.Env {
		env[k] = v
	}
	if o.DatabaseURL != "" {
		env["AUTHD_DATABASE_URL"] = o.DatabaseURL
	}
	if o.SQLitePath != "" {
		env["AUTHD_SQLITE_PATH"] = o.SQLitePath
	}
	cfg, err := app.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	return cfg
}

// New starts an instance on a fresh database (or the one named in opts)
// and stops it when t ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DatabaseURL == "" && opts.SQLitePath == "" {
		if opts.Dialect == "sqlite" {
			opts.SQLitePath = testdb.SQLitePath(t)
		} else {
			opts.DatabaseURL = testdb.MigratedURL(t)
		}
	}
	var ln net.Listener
	if len(opts.URLEnv) > 0 {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatalf("listen: %v", err)
		}
		env := make(map[string]string, len(opts.Env)+len(opts.URLEnv))
		for k, v := range opts.Env {
			env[k] = v
		}
		for _, k := range opts.URLEnv {
			env[k] = "http://" + ln.Addr().String()
		}
		opts.Env = env
	}
	cfg := opts.config(t)
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	var (
		a   *app.App
		err error
	)
	switch {
	case opts.Clock != nil:
		a, err = app.New(context.Background(), cfg, logs, opts.Clock.Now)
	case opts.Skew != 0:
		a, err = app.NewSkewed(context.Background(), cfg, logs, opts.Skew)
	default:
		a, err = app.New(context.Background(), cfg, logs, nil)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		t.Fatalf("start authd: %v", err)
	}
	if opts.Routes != nil {
		opts.Routes(a.Handler().(*gin.Engine))
	}
	hs := httptest.NewUnstartedServer(a.Handler())
	if ln != nil {
		hs.Listener.Close()
		hs.Listener = ln
	}
	hs.Start()
	s := &Server{App: a, URL: hs.URL, Client: hs.Client(), Config: cfg, DatabaseURL: opts.DatabaseURL,
		SQLitePath: opts.SQLitePath, http: hs}
	t.Cleanup(func() {
		hs.Close()
		a.Close()
	})
	return s
}

// Each runs fn against a fresh instance on PostgreSQL and on SQLite.
func Each(t *testing.T, opts Options, fn func(t *testing.T, s *Server)) {
	t.Helper()
	for _, d := range []string{"postgres", "sqlite"} {
		t.Run(d, func(t *testing.T) {
			o := opts
			o.Dialect = d
			fn(t, New(t, o))
		})
	}
}

// Response is a buffered HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing t on error.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d response %q: %v", r.Status, r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Code returns the problem code of an error response ("" otherwise).
func (r *Response) Code() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
}

// Validator checks every response a test receives.
type Validator func(t testing.TB, req *http.Request, reqBody []byte, resp *Response)

var (
	validatorsMu sync.RWMutex
	validators   = []Validator{problemValidator}
)

// AddValidator registers v for every response of every test in the process.
func AddValidator(v Validator) {
	validatorsMu.Lock()
	validators = append(validators, v)
	validatorsMu.Unlock()
}

// problemValidator asserts HTTP-01: every 4xx and 5xx outside /oauth/ is
// application/problem+json with a status equal to the HTTP status and a code.
func problemValidator(t testing.TB, req *http.Request, _ []byte, resp *Response) {
	t.Helper()
	if resp.Status < 400 || strings.HasPrefix(req.URL.Path, "/oauth/") || resp.Status == 431 {
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("%s %s: status %d with Content-Type %q, want application/problem+json", req.Method, req.URL.Path, resp.Status, ct)
		return
	}
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
		Title  string `json:"title"`
		Type   string `json:"type"`
	}
	if err := json.Unmarshal(resp.Body, &p); err != nil || p.Status != resp.Status || p.Code == "" || p.Title == "" || p.Type == "" {
		t.Errorf("%s %s: problem body %s does not match status %d", req.Method, req.URL.Path, resp.Body, resp.Status)
	}
}

// Header is one request header.
type Header struct{ Name, Value string }

// Bearer returns an Authorization header for an access token.
func Bearer(token string) Header { return Header{"Authorization", "Bearer " + token} }

// UA returns a User-Agent header.
func UA(ua string) Header { return Header{"User-Agent", ua} }

// XFF returns an X-Forwarded-For header.
func XFF(v string) Header { return Header{"X-Forwarded-For", v} }

// Do sends a request. body may be nil, a string or []byte (sent as is), or
// anything else (sent as JSON). JSON bodies get Content-Type
// application/json unless a header says otherwise.
func (s *Server) Do(t testing.TB, method, path string, body any, headers ...Header) *Response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		req.Header.Set(h.Name, h.Value)
	}
	return s.Send(t, req, raw)
}

// StopFollowingRedirects makes s.Client answer a redirect itself, so tests
// see the 3xx and its Location (and the check against the description is
// made on the response of the path that was asked for).
func (s *Server) StopFollowingRedirects() {
	c := *s.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.Client = &c
}

// Send sends a prepared request (raw is its body, for validators).
func (s *Server) Send(t testing.TB, req *http.Request, raw []byte) *Response {
	t.Helper()
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	resp := &Response{Status: res.StatusCode, Header: res.Header, Body: data}
	validatorsMu.RLock()
	vs := append([]Validator(nil), validators...)
	validatorsMu.RUnlock()
	for _, v := range vs {
		v(t, req, raw, resp)
	}
	return resp
}

// Tokens is a decoded token response.
type Tokens struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	SessionID        string `json:"session_id"`
	DeviceToken      string `json:"device_token"`
	User             struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Role  string `json:"role"`
	} `json:"user"`
}

// Register creates an account and fails t unless it answers 201.
func (s *Server) Register(t testing.TB, email, password string) string {
	t.Helper()
	r := s.Do(t, "POST", "/v1/auth/register", map[string]string{"email": email, "password": password})
	if r.Status != http.StatusCreated {
		t.Fatalf("register %s = %d %s, want 201", email, r.Status, r.Body)
	}
	var out struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	r.JSON(t, &out)
	return out.User.ID
}

// LoginAttempt sends POST /v1/auth/login and returns the answer, whatever it is.
func (s *Server) LoginAttempt(t testing.TB, email, password string, headers ...Header) *Response {
	t.Helper()
	return s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": password}, headers...)
}

// Login signs in and fails t unless it answers 200.
func (s *Server) Login(t testing.TB, email, password string, headers ...Header) Tokens {
	t.Helper()
	return s.LoginWith(t, email, map[string]any{"password": password}, headers...)
}

// LoginWith signs in with Password and the extra body fields (which may
// override the password), and fails t unless it answers 200.
func (s *Server) LoginWith(t testing.TB, email string, body map[string]any, headers ...Header) Tokens {
	t.Helper()
	b := map[string]any{"email": email, "password": Password}
	for k, v := range body {
		b[k] = v
	}
	r := s.Do(t, "POST", "/v1/auth/login", b, headers...)
	if r.Status != http.StatusOK {
		t.Fatalf("login %s = %d %s, want 200", email, r.Status, r.Body)
	}
	var tok Tokens
	r.JSON(t, &tok)
	return tok
}

// Session is the contract's `session` (one signed-in device) as the
// handlers write it; the OpenAPI validation checks its JSON on every answer.
type Session = handlers.SessionResponse

// Sessions lists the sessions of access's account and fails t unless
// GET /v1/sessions answers 200.
func (s *Server) Sessions(t testing.TB, access string) []Session {
	t.Helper()
	r := s.Do(t, "GET", "/v1/sessions", nil, Bearer(access))
	if r.Status != http.StatusOK {
		t.Fatalf("GET /v1/sessions = %d %s, want 200", r.Status, r.Body)
	}
	var out struct {
		Sessions []Session `json:"sessions"`
	}
	r.JSON(t, &out)
	return out.Sessions
}

// Refresh presents a refresh token.
func (s *Server) Refresh(t testing.TB, refreshToken string, headers ...Header) *Response {
	t.Helper()
	return s.Do(t, "POST", "/v1/auth/refresh", map[string]string{"refresh_token": refreshToken}, headers...)
}

// MustRefresh refreshes and fails t unless it answers 200.
func (s *Server) MustRefresh(t testing.TB, refreshToken string) Tokens {
	t.Helper()
	r := s.Refresh(t, refreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh = %d %s, want 200", r.Status, r.Body)
	}
	var tok Tokens
	r.JSON(t, &tok)
	return tok
}

// Password is a password that passes the policy.
const Password = "correct horse battery staple 42"

// NewUser registers a fresh account and signs it in.
func (s *Server) NewUser(t testing.TB, name string, headers ...Header) (email string, tok Tokens) {
	t.Helper()
	email = fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())
	s.Register(t, email, Password)
	return email, s.Login(t, email, Password, headers...)
}
