package handlers_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/authd/authd/internal/apitest"
)

// refreshCookie returns the refresh cookie a response sets, or nil.
func refreshCookie(t *testing.T, r *apitest.Response) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == "__Host-authd_refresh" || c.Name == "authd_refresh" {
			if found != nil {
				t.Fatalf("two refresh cookies set: %v", r.Header.Values("Set-Cookie"))
			}
			found = c
		}
	}
	return found
}

func cookieLogin(t *testing.T, s *apitest.Server, email string) (*apitest.Response, *http.Cookie) {
	t.Helper()
	r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": apitest.Password, "token_delivery": "cookie"})
	if r.Status != 200 {
		t.Fatalf("cookie login = %d %s", r.Status, r.Body)
	}
	c := refreshCookie(t, r)
	if c == nil {
		t.Fatalf("cookie login set no refresh cookie: %v", r.Header.Values("Set-Cookie"))
	}
	return r, c
}

func withCookie(c *http.Cookie) apitest.Header {
	return apitest.Header{Name: "Cookie", Value: c.Name + "=" + c.Value}
}

var xrw = apitest.Header{Name: "X-Requested-With", Value: "fetch"}

func TestCookies_Attributes(t *testing.T) {
	for _, tc := range []struct {
		secure, name string
		wantSecure   bool
	}{
		{"true", "__Host-authd_refresh", true},
		{"false", "authd_refresh", false},
	} {
		t.Run("secure="+tc.secure, func(t *testing.T) {
			s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: map[string]string{"AUTHD_COOKIE_SECURE": tc.secure}})
			email, _ := s.NewUser(t, "cookie")
			r, c := cookieLogin(t, s, email)
			if c.Name != tc.name || c.Secure != tc.wantSecure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode ||
				c.Path != "/" || c.Domain != "" || c.MaxAge <= 0 || c.Value == "" {
				t.Fatalf("refresh cookie = %+v, want %s HttpOnly SameSite=Strict Path=/ no Domain, Secure=%v", c, tc.name, tc.wantSecure)
			}
			if body := r.Map(t); body["refresh_token"] != nil {
				t.Fatalf("cookie login put the refresh token in the body too: %s", r.Body)
			}
			wantDevice := strings.Replace(tc.name, "refresh", "device", 1)
			if d := deviceCookie(t, r); d == nil || d.Name != wantDevice || d.Secure != tc.wantSecure || !d.HttpOnly ||
				d.SameSite != http.SameSiteStrictMode || d.Path != "/" || d.Domain != "" || d.MaxAge <= 0 {
				t.Fatalf("device cookie = %+v, want %s with the refresh cookie's attributes", d, wantDevice)
			}

			// Refresh through the cookie needs X-Requested-With.
			wantStatusCode(t, s.Do(t, "POST", "/v1/auth/refresh", nil, withCookie(c)), 400, "invalid_request")
			r = s.Do(t, "POST", "/v1/auth/refresh", nil, withCookie(c), xrw)
			if r.Status != 200 {
				t.Fatalf("cookie refresh = %d %s", r.Status, r.Body)
			}
			next := refreshCookie(t, r)
			if next == nil || next.Name != tc.name || next.Value == c.Value || next.Secure != tc.wantSecure || !next.HttpOnly {
				t.Fatalf("cookie refresh set %+v, want a new %s cookie", next, tc.name)
			}
			if body := r.Map(t); body["refresh_token"] != nil {
				t.Fatalf("cookie refresh put the refresh token in the body: %s", r.Body)
			}

			// So does logout; it then clears the cookie.
			r = s.Do(t, "POST", "/v1/auth/logout", nil, withCookie(next))
			wantStatusCode(t, r, 400, "invalid_request")
			if refreshCookie(t, r) != nil {
				t.Fatal("refused logout touched the cookie")
			}
			r = s.Do(t, "POST", "/v1/auth/logout", nil, withCookie(next), xrw)
			if r.Status != 204 {
				t.Fatalf("cookie logout = %d %s", r.Status, r.Body)
			}
			cleared := refreshCookie(t, r)
			if cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" || cleared.Name != tc.name || cleared.Path != "/" {
				t.Fatalf("logout cookie = %+v, want %s cleared with Max-Age=0", cleared, tc.name)
			}
			wantStatusCode(t, s.Do(t, "POST", "/v1/auth/refresh", nil, withCookie(next), xrw), 401, "session_revoked")
		})
	}
}

// TestCookies_RaceLoserKeepsCookie: a refresh that loses a race must never
// delete the winner's new cookie (F1); only a dead family clears it.
func TestCookies_RaceLoserKeepsCookie(t *testing.T) {
	parallel := func(t *testing.T, s *apitest.Server, c *http.Cookie, n int) []*apitest.Response {
		out := make([]*apitest.Response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				out[i] = s.Do(t, "POST", "/v1/auth/refresh", nil, withCookie(c), xrw)
			}()
		}
		close(start)
		wg.Wait()
		return out
	}

	t.Run("within grace every loser gets the winner's cookie", func(t *testing.T) {
		apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
			email, _ := s.NewUser(t, "race")
			_, c := cookieLogin(t, s, email)
			var value string
			for _, r := range parallel(t, s, c, 8) {
				got := refreshCookie(t, r)
				if r.Status != 200 || got == nil || got.MaxAge <= 0 {
					t.Fatalf("concurrent refresh = %d %s, cookie %+v; want 200 with the new cookie", r.Status, r.Body, got)
				}
				if value != "" && got.Value != value {
					t.Fatal("concurrent refreshes set different cookies: the family forked")
				}
				value = got.Value
			}
			// A cookie that is simply wrong clears nothing either.
			bad := &http.Cookie{Name: c.Name, Value: "garbage.token"}
			r := s.Do(t, "POST", "/v1/auth/refresh", nil, withCookie(bad), xrw)
			wantStatusCode(t, r, 401, "invalid_token")
			if got := refreshCookie(t, r); got != nil {
				t.Fatalf("an invalid cookie got Set-Cookie %+v", got)
			}
		})
	})

	t.Run("without grace only the revoked family is cleared", func(t *testing.T) {
		s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_REUSE_GRACE": "0s"}})
		email, _ := s.NewUser(t, "race0")
		_, c := cookieLogin(t, s, email)
		wins := 0
		for _, r := range parallel(t, s, c, 6) {
			got := refreshCookie(t, r)
			switch r.Status {
			case 200:
				wins++
				if got == nil || got.MaxAge <= 0 {
					t.Fatalf("winner cookie = %+v", got)
				}
			case 401:
				// Reuse revoked the family: clearing is right here.
				if r.Code() != "refresh_token_reused" || got == nil || got.MaxAge >= 0 {
					t.Fatalf("loser = %d %s, cookie %+v; want refresh_token_reused with the cookie cleared", r.Status, r.Body, got)
				}
			default:
				t.Fatalf("concurrent refresh = %d %s", r.Status, r.Body)
			}
		}
		if wins != 1 {
			t.Fatalf("%d refreshes won, want exactly 1", wins)
		}
	})
}
