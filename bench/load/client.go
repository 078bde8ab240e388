// Package load drives running authd instances over HTTP: simulated devices
// that register, sign in, call /v1/me and rotate their refresh tokens in a
// chain (each refresh presents the token the previous response gave). It is
// the engine of cmd/authd-bench and of the fault-injection tests, so both
// measure and check the same client behaviour.
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

// Client sends authd requests to one base URL per call.
type Client struct {
	HTTP      *http.Client
	UserAgent string
}

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
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(data, &p)
		r.Code = p.Code
	} else if res.StatusCode == http.StatusOK && (op == "login" || op == "refresh") {
		if err := json.Unmarshal(data, &r.Tokens); err != nil {
			r.Status, r.Err = 0, fmt.Errorf("decode token response: %w", err)
		}
	}
	return r
}

// Register creates an account (201, or 409 email_taken when it exists).
func (c *Client) Register(ctx context.Context, base, email, password string) Reply {
	return c.Do(ctx, "register", base, http.MethodPost, "/v1/auth/register",
		map[string]string{"email": email, "password": password}, "")
}

// Login signs in with the refresh token in the body.
func (c *Client) Login(ctx context.Context, base, email, password string) Reply {
	return c.Do(ctx, "login", base, http.MethodPost, "/v1/auth/login",
		map[string]string{"email": email, "password": password}, "")
}

// Refresh presents a refresh token.
func (c *Client) Refresh(ctx context.Context, base, refreshToken string) Reply {
	return c.Do(ctx, "refresh", base, http.MethodPost, "/v1/auth/refresh",
		map[string]string{"refresh_token": refreshToken}, "")
}

// Me calls GET /v1/me with an access token.
func (c *Client) Me(ctx context.Context, base, accessToken string) Reply {
	return c.Do(ctx, "me", base, http.MethodGet, "/v1/me", nil, accessToken)
}
