// Package load drives running authd instances over HTTP: simulated devices
// that register, sign in, call /v1/me and rotate their refresh tokens in a
// chain (each refresh presents the token the previous response gave). It is
// the engine of cmd/authd-bench and of the fault-injection tests, so both
// measure and check the same client behaviour. The same devices can drive a
// GoTrue-compatible server (supabase/auth: APIGoTrue), so that a comparison
// on this machine uses one client for both.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// CheckLoopback refuses any base URL whose host is not a loopback address:
// the tool is for load on this machine only, never someone else's server.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) base URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (127.0.0.0/8, ::1 or localhost): refused", host)
	}
	return nil
}

// Targets spreads requests round-robin over base URLs.
type Targets struct {
	urls []string
	next atomic.Uint64
}

// NewTargets checks every URL (loopback only) and returns the set.
func NewTargets(urls []string) (*Targets, error) {
	var out []string
	for _, u := range urls {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		if u == "" {
			continue
		}
		if err := CheckLoopback(u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("no target URL")
	}
	return &Targets{urls: out}, nil
}

// Next returns the next base URL in turn.
func (t *Targets) Next() string {
	return t.urls[(t.next.Add(1)-1)%uint64(len(t.urls))]
}

// All returns the base URLs.
func (t *Targets) All() []string { return append([]string(nil), t.urls...) }

// NewHTTPClient returns a client with a keep-alive pool sized for workers.
func NewHTTPClient(workers int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: loopback only
		MaxIdleConns:        workers * 4,
		MaxIdleConnsPerHost: workers * 2,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Tokens is a token response.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	SessionID    string `json:"session_id"`
}

// Reply is the outcome of one request.
type Reply struct {
	Op      string // register, login, refresh, me
	URL     string // base URL it went to
	Status  int    // 0: transport error
	Code    string // problem code of an error response
	Err     error  // transport error
	Latency time.Duration
	Tokens  Tokens // of a 200 login or refresh
	Body    []byte
	// RetryAfter is the Retry-After header of a 429 or 503.
	RetryAfter string
	// Refused is a refusal of the presented credential: a 401, or the 400
	// or 403 a GoTrue server answers for a refresh token or access token
	// it no longer accepts. A chained client must never see one.
	Refused bool
}

// Key names the outcome for error tables: "200", "401 invalid_token",
// "transport: connection refused".
func (r Reply) Key() string {
	if r.Status == 0 {
		return "transport: " + transportKind(r.Err)
	}
	if r.Code != "" {
		return fmt.Sprintf("%d %s", r.Status, r.Code)
	}
	return fmt.Sprint(r.Status)
}

func transportKind(err error) string {
	switch {
	case err == nil:
		return "unknown"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "connection reset"
	case errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF"):
		return "EOF"
	case strings.Contains(err.Error(), "server closed idle connection"):
		return "server closed idle connection"
	default:
		return "other"
	}
}

// APIs the client speaks.
const (
	APIAuthd  = "authd"  // /v1/auth/register, /v1/auth/login, /v1/auth/refresh, /v1/me
	APIGoTrue = "gotrue" // supabase/auth: /signup, /token?grant_type=password|refresh_token, /user
)

// gotrueRefusals are the error codes with which supabase/auth refuses a
// refresh token or an access token (its 400/403 counterparts of authd's 401).
var gotrueRefusals = map[string]bool{
	"refresh_token_not_found": true, "refresh_token_already_used": true, "session_not_found": true,
	"session_expired": true, "bad_jwt": true, "invalid_credentials": true,
}

// Client sends requests to one base URL per call.
type Client struct {
	HTTP      *http.Client
	UserAgent string
	// API is APIAuthd (default, also "") or APIGoTrue.
	API string
}

func (c *Client) gotrue() bool { return c.API == APIGoTrue }

// Do sends one request to base+path with a JSON body (nil: none) and an
// optional bearer token.
func (c *Client) Do(ctx context.Context, op, base, method, path string, body any, bearer string) Reply {
	r := Reply{Op: op, URL: base}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			r.Err = err
			return r
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		r.Err = err
		return r
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "authd-bench/1 (Linux; benchmark)"
	}
	req.Header.Set("User-Agent", ua)
	start := time.Now()
	res, err := c.HTTP.Do(req)
	if err != nil {
		r.Latency = time.Since(start)
		r.Err = err
		return r
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	r.Latency = time.Since(start)
	if err != nil {
		r.Err = err
		return r
	}
	r.Status, r.Body = res.StatusCode, data
	r.RetryAfter = res.Header.Get("Retry-After")
	if res.StatusCode >= 400 {
		// authd: {"code": "invalid_token"}; GoTrue: {"code": 400,
		// "error_code": "refresh_token_not_found"}.
		var p struct {
			Code      any    `json:"code"`
			ErrorCode string `json:"error_code"`
		}
		_ = json.Unmarshal(data, &p)
		if code, ok := p.Code.(string); ok {
			r.Code = code
		} else {
			r.Code = p.ErrorCode
		}
		r.Refused = res.StatusCode == http.StatusUnauthorized ||
			(c.gotrue() && (res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusForbidden) && gotrueRefusals[r.Code])
	} else if res.StatusCode == http.StatusOK && (op == "login" || op == "refresh") {
		if err := json.Unmarshal(data, &r.Tokens); err != nil {
			r.Status, r.Err = 0, fmt.Errorf("decode token response: %w", err)
		}
	}
	return r
}

// Registered reports whether a register reply means the account exists
// now: authd's 201 or 409 email_taken; GoTrue's 200 (auto-confirmed
// sign-up) or 422 user_already_exists.
func (r Reply) Registered() bool {
	return r.Status == http.StatusCreated || r.Status == http.StatusConflict ||
		(r.Status == http.StatusOK && r.Op == "register") ||
		(r.Status == http.StatusUnprocessableEntity && r.Code == "user_already_exists")
}

// path is authd's path for an operation, or GoTrue's when the client
// speaks supabase/auth's API.
func (c *Client) path(authd, gotrue string) string {
	if c.gotrue() {
		return gotrue
	}
	return authd
}

// Register creates an account.
func (c *Client) Register(ctx context.Context, base, email, password string) Reply {
	return c.Do(ctx, "register", base, http.MethodPost, c.path("/v1/auth/register", "/signup"),
		map[string]string{"email": email, "password": password}, "")
}

// Login signs in with the password.
func (c *Client) Login(ctx context.Context, base, email, password string) Reply {
	return c.Do(ctx, "login", base, http.MethodPost, c.path("/v1/auth/login", "/token?grant_type=password"),
		map[string]string{"email": email, "password": password}, "")
}

// Refresh presents a refresh token in the body.
func (c *Client) Refresh(ctx context.Context, base, refreshToken string) Reply {
	return c.Do(ctx, "refresh", base, http.MethodPost, c.path("/v1/auth/refresh", "/token?grant_type=refresh_token"),
		map[string]string{"refresh_token": refreshToken}, "")
}

// Me fetches the caller's account with an access token (authd's /v1/me,
// GoTrue's /user).
func (c *Client) Me(ctx context.Context, base, accessToken string) Reply {
	return c.Do(ctx, "me", base, http.MethodGet, c.path("/v1/me", "/user"), nil, accessToken)
}
