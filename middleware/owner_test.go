package middleware_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/redistest"
)

// addresses hands out a new client address per call, so that per-address
// limits behind the trusted proxy never fire.
type addresses struct{ n atomic.Int64 }

func (a *addresses) next() []apitest.Header {
	n := a.n.Add(1)
	return xff(fmt.Sprintf("203.0.%d.%d", n/250, n%250+1))
}

func want(t *testing.T, what string, r *apitest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s = %d %s, want %d", what, r.Status, r.Body, status)
	}
}

// Issue 15 item 1: the per-account budget counts failed password checks
// only. The owner signing in over and over spends nothing; wrong passwords
// still spend it, and a spent budget refuses before any bcrypt work.
func TestRateLimits_SuccessfulLoginsSpendNoAccountBudget(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_RATE_LOGIN_ACCOUNT": "3-M"}})
	email := fmt.Sprintf("owner-%d@example.com", time.Now().UnixNano())
	s.Register(t, email, apitest.Password)
	for i := 1; i <= 6; i++ {
		r := s.LoginAttempt(t, email, apitest.Password)
		want(t, fmt.Sprintf("correct login %d", i), r, http.StatusOK)
		if got := r.Header.Get("X-RateLimit-Remaining"); got != "3" {
			t.Errorf("correct login %d: X-RateLimit-Remaining = %q, want 3 (nothing spent)", i, got)
		}
	}
	for i := 1; i <= 3; i++ {
		r := s.LoginAttempt(t, email, "wrong password 123")
		want(t, fmt.Sprintf("wrong password %d", i), r, http.StatusUnauthorized)
		if got, w := r.Header.Get("X-RateLimit-Remaining"), fmt.Sprint(3-i); got != w {
			t.Errorf("wrong password %d: X-RateLimit-Remaining = %q, want %s", i, got, w)
		}
	}
	runs := s.App.Hasher().Runs.Load()
	wantLimited(t, "fourth wrong password", s.LoginAttempt(t, email, "wrong password 123"))
	wantLimited(t, "correct password once the failures spent the budget", s.LoginAttempt(t, email, apitest.Password))
	if got := s.App.Hasher().Runs.Load() - runs; got != 0 {
		t.Errorf("bcrypt ran %d times for refused logins, want 0", got)
	}
	// Unknown emails count their failures the same way.
	unknown := "nobody-" + email
	for i := 1; i <= 3; i++ {
		want(t, "unknown email", s.LoginAttempt(t, unknown, "wrong password 123"), http.StatusUnauthorized)
	}
	wantLimited(t, "fourth failure of an unknown email", s.LoginAttempt(t, unknown, "wrong password 123"))
}

// Issue 15 item 2: password proofs of a signed-in session (re-authentication
// and the current password of a password change) have one budget per
// session, failures only, and never touch the login budgets.
func TestRateLimits_ReauthSessionBudget(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{
		"AUTHD_RATE_REAUTH_SESSION": "3-M", "AUTHD_RATE_LOGIN_ACCOUNT": "2-M", "AUTHD_RATE_LOGIN_IP": "3-M",
	}})
	email, a := s.NewUser(t, "owner")
	b := s.Login(t, email, apitest.Password)
	reauth := func(tok apitest.Tokens, pw string) *apitest.Response {
		return s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": pw}, apitest.Bearer(tok.AccessToken))
	}
	changePassword := func(tok apitest.Tokens, current string) *apitest.Response {
		return s.Do(t, "POST", "/v1/me/password", map[string]string{"current_password": current,
			"new_password": "a brand new passphrase 77"}, apitest.Bearer(tok.AccessToken))
	}
	for i := 0; i < 5; i++ {
		want(t, "correct re-authentication", reauth(a, apitest.Password), http.StatusOK)
	}
	want(t, "wrong re-authentication 1", reauth(a, "wrong password 123"), http.StatusUnauthorized)
	want(t, "wrong re-authentication 2", reauth(a, "wrong password 123"), http.StatusUnauthorized)
	want(t, "wrong current password", changePassword(a, "wrong password 123"), http.StatusUnauthorized)
	runs := s.App.Hasher().Runs.Load()
	wantLimited(t, "re-authentication past the session's budget", reauth(a, apitest.Password))
	wantLimited(t, "password change past the session's budget", changePassword(a, apitest.Password))
	if got := s.App.Hasher().Runs.Load() - runs; got != 0 {
		t.Errorf("bcrypt ran %d times for refused proofs, want 0", got)
	}
	evs := rateLimitedEvents(t, s)
	if len(evs) != 1 || evs[0].Reason != "reauth_session" || evs[0].SessionID == nil || evs[0].SessionID.String() != a.SessionID ||
		evs[0].UserID == nil || evs[0].UserID.String() != a.User.ID || details(t, evs[0])["key"] != "session:"+a.SessionID {
		t.Errorf("rate_limited events = %+v, want one reauth_session event naming the session and its user", evs)
	}
	// Another session of the same account has its own budget, and the
	// failures above spent none of the account's or the address's login
	// budget (2-M and 3-M: two logins so far).
	want(t, "re-authentication of another session", reauth(b, apitest.Password), http.StatusOK)
	want(t, "login after the failed proofs", s.LoginAttempt(t, email, apitest.Password), http.StatusOK)
}

// Issue 15 items 2 and 4, as an attacker runs it: behind a trusted proxy
// the attacker rotates X-Forwarded-For so per-address limits never fire and
// spends the account's login budget with wrong passwords. The owner's
// signed-in phone still gets a fresh token, signs the thief's session out
// and changes the password, and the phone's known-device login succeeds,
// while a login without a device token stays refused.
func TestRateLimits_OwnerWinsAgainstAccountLockout(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: map[string]string{
		"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32", "AUTHD_RATE_LOGIN_IP": "2-M",
		"AUTHD_RATE_LOGIN_ACCOUNT": "3-M", "AUTHD_RATE_LOGIN_DEVICE": "3-M", "AUTHD_RATE_REAUTH_SESSION": "3-15M",
	}}, func(t *testing.T, s *apitest.Server) {
		var ip addresses
		email := fmt.Sprintf("owner-%d@example.com", time.Now().UnixNano())
		s.Register(t, email, apitest.Password)
		phone := s.Login(t, email, apitest.Password, ip.next()...)
		device := phone.DeviceToken
		if device == "" {
			t.Fatal("login answered no device_token")
		}
		thief := s.Login(t, email, apitest.Password, ip.next()...) // the stolen laptop
		// The phone's access token is no longer fresh after a refresh.
		phone = s.MustRefresh(t, phone.RefreshToken)

		for i := 1; i <= 3; i++ {
			r := s.LoginAttempt(t, email, "attacker guess 123", ip.next()...)
			want(t, fmt.Sprintf("attacker's guess %d", i), r, http.StatusUnauthorized)
		}
		limited := s.LoginAttempt(t, email, "attacker guess 123", ip.next()...)
		wantLimited(t, "attacker's fourth guess", limited)
		if got := limited.Header.Get("X-RateLimit-Limit"); got != "3" {
			t.Fatalf("X-RateLimit-Limit = %q, want the account's 3 (no per-address limit fired)", got)
		}
		wantLimited(t, "the owner's login without a device token",
			s.LoginAttempt(t, email, apitest.Password, ip.next()...))

		r := s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": apitest.Password},
			append(ip.next(), apitest.Bearer(phone.AccessToken))...)
		want(t, "the owner's re-authentication", r, http.StatusOK)
		var fresh struct {
			AccessToken string `json:"access_token"`
		}
		r.JSON(t, &fresh)
		want(t, "signing the thief's session out", s.Do(t, "DELETE", "/v1/sessions/"+thief.SessionID, nil,
			append(ip.next(), apitest.Bearer(fresh.AccessToken))...), http.StatusNoContent)
		newPassword := "owner's new passphrase 2026"
		want(t, "the owner's password change", s.Do(t, "POST", "/v1/me/password",
			map[string]string{"current_password": apitest.Password, "new_password": newPassword},
			append(ip.next(), apitest.Bearer(fresh.AccessToken))...), http.StatusNoContent)
		want(t, "the thief's access token", s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(thief.AccessToken)), http.StatusUnauthorized)

		r = s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": newPassword,
			"device_token": device}, ip.next()...)
		want(t, "the phone's known-device login", r, http.StatusOK)
		wantLimited(t, "a login without a device token, still",
			s.LoginAttempt(t, email, newPassword, ip.next()...))
	})
}

// The failures-only budgets hold across instances through Redis: failures
// on one instance count on the other, successes count nowhere.
func TestRateLimits_FailureBudgetsOnRedis(t *testing.T) {
	redis := redistest.Start(t)
	prefix := "authd-test-" + rand.Text()
	env := map[string]string{
		"AUTHD_REDIS_URL": redis.URL(), "AUTHD_RATE_PREFIX": prefix, "AUTHD_RATE_LOGIN_ACCOUNT": "2-M",
		"AUTHD_RATE_LOGIN_DEVICE": "2-M", "AUTHD_RATE_REAUTH_SESSION": "2-M",
	}
	a := apitest.New(t, apitest.Options{Env: env})
	b := apitest.New(t, apitest.Options{Env: env, DatabaseURL: a.DatabaseURL})
	email := fmt.Sprintf("owner-%d@example.com", time.Now().UnixNano())
	a.Register(t, email, apitest.Password)
	var tok apitest.Tokens
	for i := 0; i < 3; i++ {
		a.Login(t, email, apitest.Password)
		tok = b.Login(t, email, apitest.Password)
	}
	want(t, "wrong password on A", a.LoginAttempt(t, email, "wrong password 123"), http.StatusUnauthorized)
	want(t, "wrong password on B", b.LoginAttempt(t, email, "wrong password 123"), http.StatusUnauthorized)
	wantLimited(t, "login on A after failures on both", a.LoginAttempt(t, email, apitest.Password))
	want(t, "known-device login on A with B's device token", a.Do(t, "POST", "/v1/auth/login",
		map[string]string{"email": email, "password": apitest.Password, "device_token": tok.DeviceToken}), http.StatusOK)

	reauth := func(s *apitest.Server, pw string) *apitest.Response {
		return s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": pw}, apitest.Bearer(tok.AccessToken))
	}
	want(t, "wrong re-authentication on A", reauth(a, "wrong password 123"), http.StatusUnauthorized)
	want(t, "wrong re-authentication on B", reauth(b, "wrong password 123"), http.StatusUnauthorized)
	wantLimited(t, "re-authentication on A after failures on both", reauth(a, apitest.Password))

	var kinds []string
	for _, k := range redis.Keys(prefix + ":*") {
		kinds = append(kinds, strings.SplitN(strings.TrimPrefix(k, prefix+":"), ":", 2)[0])
	}
	for _, name := range []string{"login_account", "reauth_session"} {
		if !strings.Contains(strings.Join(kinds, ","), name) {
			t.Errorf("Redis keys under %s = %v, want %s counters there", prefix, kinds, name)
		}
	}
	if a.App.RateLimitStore().Degraded() || b.App.RateLimitStore().Degraded() {
		t.Error("a store fell back to in-process counting with Redis up")
	}
}
