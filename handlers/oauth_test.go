package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/authd/authd/handlers"
	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/middleware"
	"github.com/authd/authd/services"
)

// postForm sends form parameters (raw, so tests can also send malformed
// ones) with the form Content-Type.
func postForm(t *testing.T, s *apitest.Server, path, form string, headers ...apitest.Header) *apitest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, h := range headers {
		req.Header.Set(h.Name, h.Value)
	}
	return s.Send(t, req, []byte(form))
}

func refreshGrant(refreshToken string) string {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {"default"}}.Encode()
}

// oauthError decodes an RFC 6749 §5.2 error body.
func oauthError(t *testing.T, r *apitest.Response) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.JSON(t, &e)
	return e.Error
}

// wantOAuthError asserts an RFC 6749 §5.2 answer: status, error code, JSON
// (never problem+json) and not cacheable.
func wantOAuthError(t *testing.T, r *apitest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || oauthError(t, r) != code {
		t.Fatalf("got %d %s, want %d with error %q", r.Status, r.Body, status, code)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	wantNoStore(t, r)
}

func wantNoStore(t *testing.T, r *apitest.Response) {
	t.Helper()
	if cc, p := r.Header.Get("Cache-Control"), r.Header.Get("Pragma"); cc != "no-store" || p != "no-cache" {
		t.Errorf("Cache-Control = %q, Pragma = %q, want no-store and no-cache (RFC 6749 §5.1)", cc, p)
	}
}

type oauthTokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func mustOAuthRefresh(t *testing.T, s *apitest.Server, refreshToken string) oauthTokens {
	t.Helper()
	r := postForm(t, s, "/oauth/token", refreshGrant(refreshToken))
	if r.Status != http.StatusOK {
		t.Fatalf("POST /oauth/token = %d %s, want 200", r.Status, r.Body)
	}
	wantNoStore(t, r)
	var tok oauthTokens
	r.JSON(t, &tok)
	return tok
}

// sessionOf returns the session id an access token belongs to.
func sessionOf(t *testing.T, s *apitest.Server, accessToken string) string {
	t.Helper()
	r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(accessToken))
	if r.Status != http.StatusOK {
		t.Fatalf("GET /v1/me = %d %s, want 200", r.Status, r.Body)
	}
	return r.Map(t)["session_id"].(string)
}

func oauthConfig(s *apitest.Server) *oauth2.Config {
	return &oauth2.Config{
		ClientID: "default",
		Endpoint: oauth2.Endpoint{TokenURL: s.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
	}
}

// An unmodified golang.org/x/oauth2 client keeps itself signed in: handed
// the pair from /v1/auth/login, it notices its access token is expired and
// refreshes through /oauth/token by itself, request after request, and each
// refresh rotates the family in the database.
func TestOAuthToken_StandardClientRefreshesByItself(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock, Env: map[string]string{"AUTHD_ACCESS_TTL": "5s"}}, func(t *testing.T, s *apitest.Server) {
		_, tok := s.NewUser(t, "oauth-client")
		sid := tok.SessionID

		// The server's clock moves on: the access token is really expired.
		clock.Advance(time.Minute)
		if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)); r.Status != http.StatusUnauthorized || r.Code() != "token_expired" {
			t.Fatalf("GET /v1/me with the login's access token a minute later = %d %s, want 401 token_expired", r.Status, r.Body)
		}

		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.CheckedClient(t))
		ts := oauthConfig(s).TokenSource(ctx, &oauth2.Token{
			AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken,
			Expiry: time.Now().Add(-time.Second), // as the server says
		})
		client := oauth2.NewClient(ctx, ts)

		const rounds = 4
		for i := 1; i <= rounds; i++ {
			res, err := client.Get(s.URL + "/v1/me")
			if err != nil {
				t.Fatalf("round %d: GET /v1/me through the oauth2 client: %v", i, err)
			}
			var me struct {
				SessionID string `json:"session_id"`
			}
			err = json.NewDecoder(res.Body).Decode(&me)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || err != nil || me.SessionID != sid {
				t.Fatalf("round %d: GET /v1/me = %d (session %q, %v), want 200 for session %s", i, res.StatusCode, me.SessionID, err, sid)
			}
			// Rotation is visible in the database: one more generation, and
			// still exactly one live token in the family.
			db := s.App.DB()
			if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ?", sid); n != int64(i+1) {
				t.Errorf("round %d: %d refresh tokens in the family, want %d", i, n, i+1)
			}
			if n := testdb.Count(t, db, "SELECT max(generation) FROM refresh_tokens WHERE session_id = ?", sid); n != int64(i) {
				t.Errorf("round %d: newest generation %d, want %d", i, n, i)
			}
			if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND rotated_at IS NULL AND revoked_at IS NULL", sid); n != 1 {
				t.Errorf("round %d: %d live refresh tokens in the family, want exactly 1", i, n)
			}
			clock.Advance(time.Minute) // expire this access token too
		}
		if n := testdb.Count(t, s.App.DB(), "SELECT count(*) FROM sessions WHERE id = ? AND revoked_at IS NULL AND client_id = 'default'", sid); n != 1 {
			t.Errorf("the session is not live with client_id default after %d refreshes", rounds)
		}
	})
}

// OA-01: the password grant is not offered, and asking for it touches no
// account: no session, no login event.
func TestOAuthToken_PasswordGrantUnsupported(t *testing.T) {
	s := apitest.New(t, apitest.Options{})
	email := "pw-grant@example.com"
	uid := s.Register(t, email, apitest.Password)
	db := s.App.DB()
	events := testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE user_id = ?", uid)

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.CheckedClient(t))
	_, err := oauthConfig(s).PasswordCredentialsToken(ctx, email, apitest.Password)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "unsupported_grant_type" || re.Response.StatusCode != http.StatusBadRequest {
		t.Fatalf("PasswordCredentialsToken() error = %v, want 400 unsupported_grant_type", err)
	}
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {"wrong password entirely"}}.Encode()
	wantOAuthError(t, postForm(t, s, "/oauth/token", form), http.StatusBadRequest, "unsupported_grant_type")

	if n := testdb.Count(t, db, "SELECT count(*) FROM sessions WHERE user_id = ?", uid); n != 0 {
		t.Errorf("%d sessions after password grants, want 0", n)
	}
	if n := testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE user_id = ?", uid); n != events {
		t.Errorf("security events of the user went from %d to %d, want no login event", events, n)
	}
	if n := testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE type IN ('login_succeeded', 'login_failed')"); n != 0 {
		t.Errorf("%d login events after password grants, want 0", n)
	}
}

// OA-02: a replayed refresh token kills the family through /oauth/token
// exactly as through /v1/auth/refresh, whichever door rotated it.
func TestOAuthToken_ReuseRevokesFamily(t *testing.T) {
	type door struct {
		name    string
		rotate  func(t *testing.T, s *apitest.Server, rt string) string
		replay  func(t *testing.T, s *apitest.Server, rt string) // asserts the reuse answer
		failure func(t *testing.T, s *apitest.Server, rt string) // asserts the winner's answer
	}
	oauthDoor := door{
		name: "oauth",
		rotate: func(t *testing.T, s *apitest.Server, rt string) string {
			return mustOAuthRefresh(t, s, rt).RefreshToken
		},
		replay: func(t *testing.T, s *apitest.Server, rt string) {
			wantOAuthError(t, postForm(t, s, "/oauth/token", refreshGrant(rt)), http.StatusBadRequest, "invalid_grant")
		},
		failure: func(t *testing.T, s *apitest.Server, rt string) {
			wantOAuthError(t, postForm(t, s, "/oauth/token", refreshGrant(rt)), http.StatusBadRequest, "invalid_grant")
		},
	}
	v1Door := door{
		name:   "v1",
		rotate: func(t *testing.T, s *apitest.Server, rt string) string { return s.MustRefresh(t, rt).RefreshToken },
		replay: func(t *testing.T, s *apitest.Server, rt string) {
			if r := s.Refresh(t, rt); r.Status != http.StatusUnauthorized || r.Code() != "refresh_token_reused" {
				t.Fatalf("replay through /v1/auth/refresh = %d %s, want 401 refresh_token_reused", r.Status, r.Body)
			}
		},
		failure: func(t *testing.T, s *apitest.Server, rt string) {
			if r := s.Refresh(t, rt); r.Status != http.StatusUnauthorized || r.Code() != "session_revoked" {
				t.Fatalf("the winner's refresh through /v1/auth/refresh = %d %s, want 401 session_revoked", r.Status, r.Body)
			}
		},
	}
	clock := apitest.NewClock()
	for _, tt := range []struct{ rotate, replay door }{{oauthDoor, oauthDoor}, {v1Door, oauthDoor}, {oauthDoor, v1Door}} {
		t.Run("rotate via "+tt.rotate.name+", replay via "+tt.replay.name, func(t *testing.T) {
			apitest.Each(t, apitest.Options{Clock: clock}, func(t *testing.T, s *apitest.Server) {
				_, tok := s.NewUser(t, "reuse")
				winner := tt.rotate.rotate(t, s, tok.RefreshToken)
				clock.Advance(11 * time.Second) // past the 10 s grace window

				tt.replay.replay(t, s, tok.RefreshToken)
				tt.replay.failure(t, s, winner)

				db := s.App.DB()
				if n := testdb.Count(t, db, "SELECT count(*) FROM sessions WHERE id = ? AND revoked_at IS NOT NULL AND revoke_reason = 'reuse_detected'", tok.SessionID); n != 1 {
					t.Errorf("the session is not revoked with reason reuse_detected")
				}
				if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND rotated_at IS NULL AND revoked_at IS NULL", tok.SessionID); n != 0 {
					t.Errorf("%d live refresh tokens in the revoked family, want 0", n)
				}
				if n := testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE type = 'session_revoked' AND reason = 'reuse_detected' AND session_id = ?", tok.SessionID); n != 1 {
					t.Errorf("%d session_revoked/reuse_detected events, want 1", n)
				}
				if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)); r.Status != http.StatusUnauthorized || r.Code() != "session_revoked" {
					t.Errorf("GET /v1/me with the family's access token = %d %s, want 401 session_revoked", r.Status, r.Body)
				}
			})
		})
	}
}

// A retry of a just-rotated token within the grace window is no theft:
// /oauth/token answers the same new refresh token again.
func TestOAuthToken_GraceRetry(t *testing.T) {
	clock := apitest.NewClock()
	s := apitest.New(t, apitest.Options{Clock: clock})
	_, tok := s.NewUser(t, "grace")
	first := mustOAuthRefresh(t, s, tok.RefreshToken)
	clock.Advance(5 * time.Second)
	again := mustOAuthRefresh(t, s, tok.RefreshToken)
	if again.RefreshToken != first.RefreshToken {
		t.Fatalf("a retry within grace got another refresh token, want the same child")
	}
	if n := testdb.Count(t, s.App.DB(), "SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND rotated_at IS NULL AND revoked_at IS NULL", tok.SessionID); n != 1 {
		t.Fatalf("%d live refresh tokens after a retry, want 1", n)
	}
	mustOAuthRefresh(t, s, first.RefreshToken)
}

// RFC 6749 §5.2 errors for every malformed request, never problem+json.
func TestOAuthToken_Errors(t *testing.T) {
	s := apitest.New(t, apitest.Options{})
	_, tok := s.NewUser(t, "oauth-errors")
	valid := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"JSON body", "application/json", `{"grant_type":"refresh_token","refresh_token":"x"}`, 400, "invalid_request"},
		{"no grant_type", "application/x-www-form-urlencoded", "refresh_token=" + url.QueryEscape(tok.RefreshToken), 400, "invalid_request"},
		{"authorization_code grant", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=abc", 400, "unsupported_grant_type"},
		{"client_credentials grant", "application/x-www-form-urlencoded", "grant_type=client_credentials", 400, "unsupported_grant_type"},
		{"no refresh_token", "application/x-www-form-urlencoded", "grant_type=refresh_token", 400, "invalid_request"},
		{"empty refresh_token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=", 400, "invalid_request"},
		{"repeated parameter", "application/x-www-form-urlencoded", valid.Encode() + "&grant_type=refresh_token", 400, "invalid_request"},
		{"scope", "application/x-www-form-urlencoded", valid.Encode() + "&scope=admin", 400, "invalid_scope"},
		{"malformed refresh token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=not-a-token", 400, "invalid_grant"},
		{"unknown refresh token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" +
			"AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 400, "invalid_grant"},
		{"body over 64 KiB", "application/x-www-form-urlencoded", valid.Encode() + "&pad=" + strings.Repeat("a", 70<<10), 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, s.URL+"/oauth/token", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			r := s.Send(t, req, []byte(tt.body))
			wantOAuthError(t, r, tt.status, tt.code)
		})
	}
	// None of the failures above spent the valid token.
	mustOAuthRefresh(t, s, tok.RefreshToken)
}

// The refresh token in the answer is not cacheable, and the new access
// token works.
func TestOAuthToken_Response(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	_, tok := s.NewUser(t, "oauth-response")
	got := mustOAuthRefresh(t, s, tok.RefreshToken)
	if got.TokenType != "Bearer" || got.ExpiresIn != int(s.Config.AccessTTL/time.Second) || got.RefreshToken == tok.RefreshToken {
		t.Fatalf("token response: token_type %q, expires_in %d, new refresh token %v; want Bearer, %v, true",
			got.TokenType, got.ExpiresIn, got.RefreshToken != tok.RefreshToken, s.Config.AccessTTL)
	}
	if sid := sessionOf(t, s, got.AccessToken); sid != tok.SessionID {
		t.Fatalf("the new access token is for session %s, want %s", sid, tok.SessionID)
	}
}

// OA-04, RT-09: revocation ends the session of a refresh token, and answers
// 200 whatever it gets.
func TestOAuthRevoke(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		db := s.App.DB()
		revokedFor := func(t *testing.T, sid, reason string) {
			t.Helper()
			if n := testdb.Count(t, db, "SELECT count(*) FROM sessions WHERE id = ? AND revoke_reason = ?", sid, reason); n != 1 {
				t.Errorf("session not revoked with reason %s", reason)
			}
			if n := testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE type = 'session_revoked' AND reason = ? AND session_id = ?", reason, sid); n != 1 {
				t.Errorf("%d session_revoked events with reason %s, want 1", n, reason)
			}
		}
		wantRevoked := func(t *testing.T, form string) {
			t.Helper()
			r := postForm(t, s, "/oauth/revoke", form)
			if r.Status != http.StatusOK || len(r.Body) != 0 {
				t.Fatalf("POST /oauth/revoke = %d %q, want 200 with no body", r.Status, r.Body)
			}
			wantNoStore(t, r)
		}

		t.Run("refresh token", func(t *testing.T) {
			_, tok := s.NewUser(t, "revoke-rt")
			wantRevoked(t, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}.Encode())
			wantOAuthError(t, postForm(t, s, "/oauth/token", refreshGrant(tok.RefreshToken)), http.StatusBadRequest, "invalid_grant")
			revokedFor(t, tok.SessionID, "logout")
			// Again: still 200, nothing more recorded.
			wantRevoked(t, url.Values{"token": {tok.RefreshToken}}.Encode())
			revokedFor(t, tok.SessionID, "logout")
		})
		t.Run("refresh token with the access-token hint", func(t *testing.T) {
			_, tok := s.NewUser(t, "revoke-hint")
			wantRevoked(t, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"access_token"}}.Encode())
			revokedFor(t, tok.SessionID, "logout")
		})
		t.Run("access token revokes its session", func(t *testing.T) {
			_, tok := s.NewUser(t, "revoke-at")
			wantRevoked(t, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}.Encode())
			if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)); r.Status != http.StatusUnauthorized || r.Code() != "session_revoked" {
				t.Fatalf("GET /v1/me after revoking the access token = %d %s, want 401 session_revoked", r.Status, r.Body)
			}
			wantOAuthError(t, postForm(t, s, "/oauth/token", refreshGrant(tok.RefreshToken)), http.StatusBadRequest, "invalid_grant")
			revokedFor(t, tok.SessionID, "logout")
		})
		t.Run("unknown and malformed tokens", func(t *testing.T) {
			before := testdb.Count(t, db, "SELECT count(*) FROM security_events")
			for _, token := range []string{
				"AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
				"garbage",
				"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
			} {
				wantRevoked(t, url.Values{"token": {token}}.Encode())
			}
			if after := testdb.Count(t, db, "SELECT count(*) FROM security_events"); after != before {
				t.Errorf("revoking unknown tokens recorded %d events, want none", after-before)
			}
		})
		t.Run("no token", func(t *testing.T) {
			wantOAuthError(t, postForm(t, s, "/oauth/revoke", "token_type_hint=refresh_token"), http.StatusBadRequest, "invalid_request")
			wantOAuthError(t, s.Do(t, "POST", "/oauth/revoke", map[string]string{"token": "x"}), http.StatusBadRequest, "invalid_request")
		})
	})
}

// OA-03: refresh grants past AUTHD_RATE_REFRESH_IP from one address are
// 429, and /oauth/token and /v1/auth/refresh spend one budget.
func TestOAuthToken_RefreshRateLimitShared(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: map[string]string{"AUTHD_RATE_REFRESH_IP": "3-M"}})
	_, tok := s.NewUser(t, "oauth-limit")
	rt := s.MustRefresh(t, tok.RefreshToken).RefreshToken // 1 of 3
	rt = mustOAuthRefresh(t, s, rt).RefreshToken          // 2
	r := postForm(t, s, "/oauth/token", refreshGrant(rt)) // 3
	if r.Status != http.StatusOK || r.Header.Get("X-RateLimit-Limit") != "3" || r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("third refresh = %d, X-RateLimit-Limit %q, Remaining %q; want 200, 3, 0", r.Status,
			r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"))
	}
	rt = mustDecodeRefresh(t, r)

	r = postForm(t, s, "/oauth/token", refreshGrant(rt))
	wantOAuthError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if r := s.Refresh(t, rt); r.Status != http.StatusTooManyRequests || r.Code() != "rate_limited" {
		t.Errorf("/v1/auth/refresh once /oauth/token spent the budget = %d %s, want 429 rate_limited", r.Status, r.Body)
	}
	// The limited requests never reached the token: it is still live.
	if n := testdb.Count(t, s.App.DB(), "SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND rotated_at IS NULL AND revoked_at IS NULL", tok.SessionID); n != 1 {
		t.Errorf("%d live refresh tokens after limited requests, want 1", n)
	}
}

func mustDecodeRefresh(t *testing.T, r *apitest.Response) string {
	t.Helper()
	var tok oauthTokens
	r.JSON(t, &tok)
	return tok.RefreshToken
}

// withRefreshHook serves the routes of s's instance on an engine whose
// refresh rate-limit hook is hook, wired as internal/app wires the real one.
func withRefreshHook(t *testing.T, s *apitest.Server, hook gin.HandlerFunc) *apitest.Server {
	t.Helper()
	r := gin.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.Use(middleware.RequestIDs(), middleware.Recover(log), middleware.Errors(log))
	handlers.Register(r, handlers.Services{
		Accounts: s.App.Accounts(), Sessions: s.App.Sessions(), Tokens: s.App.Tokens(), Ping: s.App.DB().Ping,
	}, handlers.Middleware{
		Authenticate: middleware.Authenticate(s.App.Tokens()), RequireAdmin: middleware.RequireAdmin,
		NoStore: middleware.NoStore, LimitRefresh: hook, OAuthErrors: middleware.OAuthErrors,
	}, handlers.Options{})
	hs := httptest.NewServer(r)
	t.Cleanup(hs.Close)
	return &apitest.Server{App: s.App, URL: hs.URL, Client: hs.Client(), Config: s.Config}
}

// RFC 6749 §5.2 on every failure path: whatever the rest of authd answers
// as a problem in front of or behind the handler (a limiter, an unavailable
// database, a panic) reaches OAuth clients as §5.2 JSON, with its
// Retry-After and X-RateLimit-* headers; and /oauth/token runs the very
// hook /v1/auth/refresh runs.
func TestOAuthToken_ErrorTranslation(t *testing.T) {
	base := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	var mu sync.Mutex
	budget := 2
	s := withRefreshHook(t, base, func(c *gin.Context) {
		switch c.GetHeader("X-Test-Fail") {
		case "unavailable":
			middleware.WriteProblem(c, services.Errorf(services.CodeUnavailable, "The database is down."))
			return
		case "panic":
			panic("boom")
		}
		mu.Lock()
		left := budget
		budget--
		mu.Unlock()
		c.Header("X-RateLimit-Limit", "2")
		c.Header("X-RateLimit-Remaining", strconv.Itoa(max(left-1, 0)))
		c.Header("X-RateLimit-Reset", "1900000000")
		if left <= 0 {
			c.Header("Retry-After", "30")
			middleware.WriteProblem(c, services.Errorf(services.CodeRateLimited, "Too many refreshes from this address; retry in 30 seconds."))
			return
		}
		c.Next()
	})
	_, tok := s.NewUser(t, "limited")

	rt := s.MustRefresh(t, tok.RefreshToken).RefreshToken // budget 2 → 1
	mustOAuthRefresh(t, s, rt)                            // 1 → 0
	r := postForm(t, s, "/oauth/token", refreshGrant(rt))
	wantOAuthError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") != "30" || r.Header.Get("X-RateLimit-Remaining") != "0" || r.Header.Get("X-RateLimit-Limit") != "2" {
		t.Errorf("429 headers %v, want Retry-After and X-RateLimit-* kept", r.Header)
	}
	if r := s.Refresh(t, rt); r.Status != http.StatusTooManyRequests || r.Code() != "rate_limited" {
		t.Errorf("/v1/auth/refresh after /oauth/token spent the budget = %d %s, want 429 rate_limited", r.Status, r.Body)
	}

	r = postForm(t, s, "/oauth/token", refreshGrant(rt), apitest.Header{Name: "X-Test-Fail", Value: "unavailable"})
	wantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	r = postForm(t, s, "/oauth/token", refreshGrant(rt), apitest.Header{Name: "X-Test-Fail", Value: "panic"})
	wantOAuthError(t, r, http.StatusInternalServerError, "server_error")
	if strings.Contains(string(r.Body), "boom") {
		t.Errorf("the 500 leaks the panic: %s", r.Body)
	}
}
