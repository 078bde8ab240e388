package handlers_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
)

// liveTokensPerFamily is RT-06: no session may have two live refresh tokens.
func assertOneLiveTokenPerFamily(t *testing.T, s *apitest.Server) {
	t.Helper()
	n := testdb.Count(t, s.App.DB(), `SELECT count(*) FROM (SELECT session_id FROM refresh_tokens
		WHERE rotated_at IS NULL AND revoked_at IS NULL GROUP BY session_id HAVING count(*) > 1) AS forks`)
	if n != 0 {
		t.Fatalf("%d sessions have more than one live refresh token", n)
	}
}

func reuseEvents(t *testing.T, s *apitest.Server, sessionID string) int64 {
	t.Helper()
	return testdb.Count(t, s.App.DB(), `SELECT count(*) FROM security_events
		WHERE type = 'session_revoked' AND reason = 'reuse_detected' AND session_id = ?`, sessionID)
}

func TestRefresh_RotatesAndKeepsHistory(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, r0 := s.NewUser(t, "rotate")
		r1 := s.MustRefresh(t, r0.RefreshToken)
		if r1.RefreshToken == r0.RefreshToken || r1.AccessToken == r0.AccessToken {
			t.Fatal("refresh returned the same tokens, want new ones")
		}
		if r1.SessionID != r0.SessionID {
			t.Fatalf("session changed on refresh: %s → %s", r0.SessionID, r1.SessionID)
		}
		// The old row is kept, marked rotated, and linked to its child.
		id0 := tokenID(t, r0.RefreshToken)
		id1 := tokenID(t, r1.RefreshToken)
		n := testdb.Count(t, s.App.DB(), `SELECT count(*) FROM refresh_tokens p JOIN refresh_tokens c ON c.parent_id = p.id
			WHERE p.id = ? AND c.id = ? AND p.rotated_at IS NOT NULL AND p.child_id = c.id AND c.generation = p.generation + 1`, id0, id1)
		if n != 1 {
			t.Fatalf("parent/child rows for R0→R1: %d, want 1 rotated parent linked to its child", n)
		}
		assertOneLiveTokenPerFamily(t, s)
	})
}

// tokenID returns the UUID of the id part of a refresh token.
func tokenID(t *testing.T, refresh string) string {
	t.Helper()
	idPart, _, _ := strings.Cut(refresh, ".")
	b, err := base64.RawURLEncoding.DecodeString(idPart)
	if err != nil || len(b) != 16 {
		t.Fatalf("refresh token id part %q: %v", idPart, err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Issue point 5 and RT-02: replaying a rotated token after the grace window
// revokes the whole family for good, with one event.
func TestRefresh_ReuseRevokesFamilyForGood(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock}, func(t *testing.T, s *apitest.Server) {
		_, a := s.NewUser(t, "reuse", apitest.UA("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"))
		b := s.MustRefresh(t, a.RefreshToken)
		// The last legitimate refresh, from the owner's own browser.
		legit := s.Refresh(t, b.RefreshToken, apitest.UA("Firefox-owner/125.0"))
		if legit.Status != http.StatusOK {
			t.Fatalf("refresh of B = %d %s", legit.Status, legit.Body)
		}
		var c apitest.Tokens
		legit.JSON(t, &c)
		clock.Advance(11 * time.Second)

		replay := s.Refresh(t, a.RefreshToken, apitest.UA("curl/8.5.0"))
		if replay.Status != http.StatusUnauthorized || replay.Code() != "refresh_token_reused" {
			t.Fatalf("replay of A = %d %s, want 401 refresh_token_reused", replay.Status, replay.Body)
		}
		for i := 0; i < 2; i++ {
			r := s.Refresh(t, c.RefreshToken)
			if r.Status != http.StatusUnauthorized || r.Code() != "session_revoked" {
				t.Fatalf("newest token C after reuse (try %d) = %d %s, want 401 session_revoked", i+1, r.Status, r.Body)
			}
			clock.Advance(time.Second)
		}
		// The session's access tokens die too.
		me := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(c.AccessToken))
		if me.Status != http.StatusUnauthorized || me.Code() != "session_revoked" {
			t.Fatalf("/v1/me with the family's access token = %d %s, want 401 session_revoked", me.Status, me.Body)
		}
		// A second replay records nothing new.
		if r := s.Refresh(t, a.RefreshToken); r.Code() != "refresh_token_reused" {
			t.Fatalf("second replay of A = %s, want refresh_token_reused", r.Body)
		}
		if n := reuseEvents(t, s, a.SessionID); n != 1 {
			t.Fatalf("reuse_detected events = %d, want exactly 1", n)
		}
		var details string
		testdb.Must(t, s.App.DB().Raw(`SELECT details FROM security_events WHERE reason = 'reuse_detected' AND session_id = ?`, a.SessionID).Scan(&details).Error)
		var d map[string]any
		if err := json.Unmarshal([]byte(details), &d); err != nil {
			t.Fatal(err)
		}
		if d["replay_ip_prefix"] != "127.0.0.0/24" || d["replay_user_agent"] != "curl/8.5.0" ||
			d["last_legitimate_ip_prefix"] != "127.0.0.0/24" || d["last_legitimate_user_agent"] != "Firefox-owner/125.0" || d["replayed_generation"] != float64(0) || d["latest_generation"] != float64(2) {
			t.Fatalf("reuse event details = %s, want the replayer's prefix and UA, generation 0 of 2, and the last legitimate prefix and UA", details)
		}
		// The revocation is committed although the replay got an error (F14).
		if n := testdb.Count(t, s.App.DB(), `SELECT count(*) FROM sessions WHERE id = ? AND revoked_at IS NOT NULL AND revoke_reason = 'reuse_detected'`, a.SessionID); n != 1 {
			t.Fatal("the session is not revoked in the database after reuse detection")
		}
		if n := testdb.Count(t, s.App.DB(), `SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND revoked_at IS NULL AND rotated_at IS NULL`, a.SessionID); n != 0 {
			t.Fatalf("%d live refresh tokens remain in the revoked family", n)
		}
	})
}

// One step behind is no exception: the parent of the newest token, after
// the grace window, is reuse too.
func TestRefresh_ParentOfNewestAfterGraceIsReuse(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock}, func(t *testing.T, s *apitest.Server) {
		_, a := s.NewUser(t, "parent")
		b := s.MustRefresh(t, a.RefreshToken)
		clock.Advance(10*time.Second + time.Millisecond)
		if r := s.Refresh(t, a.RefreshToken); r.Code() != "refresh_token_reused" {
			t.Fatalf("parent of the newest after grace = %d %s, want refresh_token_reused", r.Status, r.Body)
		}
		if r := s.Refresh(t, b.RefreshToken); r.Code() != "session_revoked" {
			t.Fatalf("newest after reuse = %d %s, want session_revoked", r.Status, r.Body)
		}
	})
}

// RT-05 and F4: a retry within the grace window returns the same child,
// byte for byte, but only while that child is unused.
func TestRefresh_GraceRetryReturnsSameChild(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock}, func(t *testing.T, s *apitest.Server) {
		_, r0 := s.NewUser(t, "grace")
		r1 := s.MustRefresh(t, r0.RefreshToken)
		clock.Advance(9900 * time.Millisecond)
		again := s.MustRefresh(t, r0.RefreshToken)
		if again.RefreshToken != r1.RefreshToken {
			t.Fatalf("retry at 9.9 s returned %q, want the same child %q", again.RefreshToken, r1.RefreshToken)
		}
		if n := testdb.Count(t, s.App.DB(), `SELECT count(*) FROM refresh_tokens WHERE session_id = ?`, r0.SessionID); n != 2 {
			t.Fatalf("family has %d tokens after a retry, want 2 (no new child)", n)
		}
		r2 := s.MustRefresh(t, r1.RefreshToken) // the child is used now
		if r := s.Refresh(t, r0.RefreshToken); r.Code() != "refresh_token_reused" {
			t.Fatalf("parent after its child was used, within grace = %d %s, want refresh_token_reused", r.Status, r.Body)
		}
		if r := s.Refresh(t, r2.RefreshToken); r.Code() != "session_revoked" {
			t.Fatalf("R2 after reuse = %s, want session_revoked", r.Body)
		}
		if n := reuseEvents(t, s, r0.SessionID); n != 1 {
			t.Fatalf("reuse events = %d, want 1", n)
		}
		assertOneLiveTokenPerFamily(t, s)
	})
}

func TestRefresh_GraceEdge(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock}, func(t *testing.T, s *apitest.Server) {
		_, r0 := s.NewUser(t, "edge")
		s.MustRefresh(t, r0.RefreshToken)
		clock.Advance(10100 * time.Millisecond)
		if r := s.Refresh(t, r0.RefreshToken); r.Code() != "refresh_token_reused" {
			t.Fatalf("retry at 10.1 s = %d %s, want refresh_token_reused", r.Status, r.Body)
		}
	})
}

func TestRefresh_GraceZeroMeansAnySecondUseIsReuse(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: map[string]string{"AUTHD_REUSE_GRACE": "0s"}}, func(t *testing.T, s *apitest.Server) {
		_, r0 := s.NewUser(t, "zero")
		r1 := s.MustRefresh(t, r0.RefreshToken)
		if r := s.Refresh(t, r0.RefreshToken); r.Code() != "refresh_token_reused" {
			t.Fatalf("immediate second use with grace 0 = %d %s, want refresh_token_reused", r.Status, r.Body)
		}
		if r := s.Refresh(t, r1.RefreshToken); r.Code() != "session_revoked" {
			t.Fatalf("child after reuse = %s, want session_revoked", r.Body)
		}
	})
}

// RT-03: a known id with a wrong secret is invalid and revokes nothing.
func TestRefresh_WrongSecretRevokesNothing(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, r0 := s.NewUser(t, "guess")
		idPart, _, _ := strings.Cut(r0.RefreshToken, ".")
		for i := 0; i < 20; i++ {
			forged := idPart + "." + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%032d", i)))
			r := s.Refresh(t, forged)
			if r.Status != http.StatusUnauthorized || r.Code() != "invalid_token" {
				t.Fatalf("forged secret = %d %s, want 401 invalid_token", r.Status, r.Body)
			}
		}
		s.MustRefresh(t, r0.RefreshToken)
		if n := testdb.Count(t, s.App.DB(), `SELECT count(*) FROM security_events WHERE type = 'session_revoked'`); n != 0 {
			t.Fatalf("%d revocation events after guessing, want 0", n)
		}
	})
}

func TestRefresh_MalformedTokens(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	_, tok := s.NewUser(t, "malformed")
	for _, raw := range []string{"x", "a.b", tok.RefreshToken + "=", strings.ToUpper(tok.RefreshToken), tok.AccessToken, strings.Repeat("A", 66), tok.RefreshToken + ".x"} {
		if r := s.Refresh(t, raw); r.Status != http.StatusUnauthorized || r.Code() != "invalid_token" {
			t.Errorf("refresh(%.20q…) = %d %s, want 401 invalid_token", raw, r.Status, r.Body)
		}
	}
}

// Issue point 6 and CONC-01 (FI-6 in one process): 50 concurrent refreshes
// of one token.
func TestRefresh_ConcurrentSameToken(t *testing.T) {
	for _, grace := range []string{"10s", "0s"} {
		t.Run("grace "+grace, func(t *testing.T) {
			apitest.Each(t, apitest.Options{Env: map[string]string{"AUTHD_REUSE_GRACE": grace}}, func(t *testing.T, s *apitest.Server) {
				_, r0 := s.NewUser(t, "race")
				const n = 50
				type result struct {
					status  int
					code    string
					refresh string
				}
				results := make([]result, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						<-start
						r := s.Refresh(t, r0.RefreshToken)
						var tok apitest.Tokens
						if r.Status == http.StatusOK {
							_ = json.Unmarshal(r.Body, &tok)
						}
						results[i] = result{r.Status, r.Code(), tok.RefreshToken}
					}(i)
				}
				close(start)
				wg.Wait()

				ok, children := 0, map[string]bool{}
				for _, r := range results {
					switch {
					case r.status == http.StatusOK:
						ok++
						children[r.refresh] = true
					case r.code != "refresh_token_reused":
						t.Fatalf("unexpected answer %d %s", r.status, r.code)
					}
				}
				rows := testdb.Count(t, s.App.DB(), `SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND generation = 1`, r0.SessionID)
				if grace == "10s" {
					if ok != n || len(children) != 1 || rows != 1 {
						t.Fatalf("grace 10s: %d of %d got 200 with %d distinct children and %d child rows, want all 200, one child", ok, n, len(children), rows)
					}
					if e := reuseEvents(t, s, r0.SessionID); e != 0 {
						t.Fatalf("grace 10s: %d reuse events, want 0", e)
					}
				} else {
					if ok != 1 {
						t.Fatalf("grace 0: %d of %d succeeded, want exactly 1", ok, n)
					}
					if e := reuseEvents(t, s, r0.SessionID); e != 1 {
						t.Fatalf("grace 0: %d reuse events, want exactly 1", e)
					}
					for child := range children {
						if r := s.Refresh(t, child); r.Code() != "session_revoked" {
							t.Fatalf("grace 0: the winner's child = %s, want session_revoked", r.Body)
						}
					}
				}
				assertOneLiveTokenPerFamily(t, s)
			})
		})
	}
}

// SESS-03: the idle timeout, renewed by each refresh.
func TestRefresh_IdleTimeout(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock, Env: map[string]string{"AUTHD_REFRESH_TTL": "2s"}}, func(t *testing.T, s *apitest.Server) {
		_, tok := s.NewUser(t, "idle")
		for i := 0; i < 4; i++ { // 4 s in all, in 1 s steps: kept alive
			clock.Advance(time.Second)
			tok = s.MustRefresh(t, tok.RefreshToken)
		}
		clock.Advance(2 * time.Second)
		if r := s.Refresh(t, tok.RefreshToken); r.Status != http.StatusUnauthorized || r.Code() != "token_expired" {
			t.Fatalf("refresh after 2 s idle = %d %s, want 401 token_expired", r.Status, r.Body)
		}
	})
}

// SESS-04: the absolute lifetime is never extended.
func TestRefresh_AbsoluteLifetime(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock, Env: map[string]string{"AUTHD_SESSION_MAX_AGE": "5s", "AUTHD_REFRESH_TTL": "1h"}}, func(t *testing.T, s *apitest.Server) {
		_, tok := s.NewUser(t, "absolute")
		if tok.RefreshExpiresIn > 5 {
			t.Fatalf("refresh_expires_in at login = %d, want ≤ 5 (the absolute lifetime)", tok.RefreshExpiresIn)
		}
		for elapsed := 1; elapsed < 5; elapsed++ {
			clock.Advance(time.Second)
			tok = s.MustRefresh(t, tok.RefreshToken)
			if tok.RefreshExpiresIn > 5-elapsed {
				t.Fatalf("refresh_expires_in after %d s = %d, want ≤ %d", elapsed, tok.RefreshExpiresIn, 5-elapsed)
			}
		}
		clock.Advance(time.Second)
		if r := s.Refresh(t, tok.RefreshToken); r.Code() != "token_expired" {
			t.Fatalf("refresh at 5 s = %d %s, want token_expired", r.Status, r.Body)
		}
	})
}

// SESS-06 and RT-09: logout ends refresh and access tokens; unknown tokens
// get the same 204.
func TestLogout(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, tok := s.NewUser(t, "logout")
		for _, body := range []any{map[string]string{"refresh_token": "nonsense"}, map[string]string{"refresh_token": tokenLike()}, map[string]string{}} {
			if r := s.Do(t, "POST", "/v1/auth/logout", body); r.Status != http.StatusNoContent {
				t.Fatalf("logout(%v) = %d %s, want 204", body, r.Status, r.Body)
			}
		}
		if r := s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": tok.RefreshToken}); r.Status != http.StatusNoContent {
			t.Fatalf("logout = %d %s, want 204", r.Status, r.Body)
		}
		if r := s.Refresh(t, tok.RefreshToken); r.Code() != "session_revoked" {
			t.Fatalf("refresh after logout = %d %s, want session_revoked", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)); r.Code() != "session_revoked" {
			t.Fatalf("/v1/me after logout = %d %s, want session_revoked", r.Status, r.Body)
		}
		n := testdb.Count(t, s.App.DB(), `SELECT count(*) FROM security_events WHERE type = 'session_revoked' AND reason = 'logout' AND session_id = ?`, tok.SessionID)
		if n != 1 {
			t.Fatalf("logout events = %d, want 1", n)
		}
		// Logout with only an access token ends that session.
		_, tok2 := s.NewUser(t, "logout-bearer")
		if r := s.Do(t, "POST", "/v1/auth/logout", nil, apitest.Bearer(tok2.AccessToken)); r.Status != http.StatusNoContent {
			t.Fatalf("logout with bearer = %d, want 204", r.Status)
		}
		if r := s.Refresh(t, tok2.RefreshToken); r.Code() != "session_revoked" {
			t.Fatalf("refresh after bearer logout = %s, want session_revoked", r.Body)
		}
	})
}

func tokenLike() string {
	return base64.RawURLEncoding.EncodeToString(make([]byte, 16)) + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
}

// RT-10: token responses are not cached.
func TestTokenResponses_NoStore(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	email, tok := s.NewUser(t, "cache")
	login := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": apitest.Password})
	refresh := s.Refresh(t, tok.RefreshToken)
	for name, r := range map[string]*apitest.Response{"login": login, "refresh": refresh} {
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s Cache-Control = %q, want no-store", name, r.Header.Get("Cache-Control"))
		}
	}
}

// RT-07: a refresh token opens nothing but refresh, logout and revoke.
func TestRefreshTokenIsNoAccessToken(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	_, tok := s.NewUser(t, "bound")
	if r := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.RefreshToken)); r.Code() != "invalid_token" {
		t.Fatalf("/v1/me with a refresh token = %d %s, want invalid_token", r.Status, r.Body)
	}
	if r := s.Refresh(t, tok.AccessToken); r.Code() != "invalid_token" {
		t.Fatalf("refresh with an access token = %d %s, want invalid_token", r.Status, r.Body)
	}
}

// SESS-14: tokens are never taken from the URL.
func TestTokensNotFromURL(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	_, tok := s.NewUser(t, "url")
	if r := s.Do(t, "GET", "/v1/me?access_token="+tok.AccessToken, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("/v1/me?access_token= = %d, want 401", r.Status)
	}
	if r := s.Do(t, "POST", "/v1/auth/refresh?refresh_token="+tok.RefreshToken, nil); r.Status != http.StatusUnauthorized && r.Status != http.StatusBadRequest {
		t.Fatalf("refresh?refresh_token= with no body = %d, want 400 or 401", r.Status)
	}
}

// A revocation outlives a restart: a new instance on the same database
// loads the revoked sessions and refuses their access tokens at once (on
// SQLite from its own load, on PostgreSQL through the feed's load).
func TestRevocationSurvivesRestart(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, tok := s.NewUser(t, "restart")
		if r := s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": tok.RefreshToken}); r.Status != http.StatusNoContent {
			t.Fatalf("logout = %d", r.Status)
		}
		restarted := apitest.New(t, apitest.Options{DatabaseURL: s.DatabaseURL, SQLitePath: s.SQLitePath})
		if n := restarted.App.Revocations().Len(); n == 0 {
			t.Fatal("the new instance's revocation set is empty")
		}
		if r := restarted.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)); r.Code() != "session_revoked" {
			t.Fatalf("/v1/me on the restarted instance = %d %s, want session_revoked", r.Status, r.Body)
		}
	})
}

// Issue 15 point 11: a grace retry from another address prefix or user
// agent than the first use still gets the same child (a phone that switched
// networks is not locked out), and leaves a refresh_retry_mismatch event
// with both prefixes and user agents, listed and exported for the admin.
func TestRefresh_GraceRetryFromElsewhereLeavesATrace(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Clock: clock, Env: map[string]string{"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32"}}, func(t *testing.T, s *apitest.Server) {
		_, admin := newAdmin(t, s)
		phone := []apitest.Header{apitest.UA("Phone/1.0"), apitest.XFF("198.51.100.7")}
		_, r0 := s.NewUser(t, "elsewhere", phone...)
		refresh := func(headers ...apitest.Header) string {
			t.Helper()
			r := s.Refresh(t, r0.RefreshToken, headers...)
			if r.Status != http.StatusOK {
				t.Fatalf("refresh = %d %s, want 200", r.Status, r.Body)
			}
			var tok apitest.Tokens
			r.JSON(t, &tok)
			return tok.RefreshToken
		}
		mismatches := func() eventList {
			t.Helper()
			return listEvents(t, s, admin.AccessToken, url.Values{"type": {"refresh_retry_mismatch"}, "session_id": {r0.SessionID}})
		}
		child := refresh(phone...) // the first use
		clock.Advance(time.Second)
		if again := refresh(phone...); again != child {
			t.Fatal("a retry from the same place got another child")
		}
		if n := len(mismatches().Events); n != 0 {
			t.Fatalf("%d refresh_retry_mismatch events after a retry from the same place, want 0", n)
		}

		clock.Advance(time.Second)
		if again := refresh(apitest.UA("Laptop/2.0"), apitest.XFF("203.0.113.9")); again != child {
			t.Fatal("a retry from elsewhere within grace got another child, want the same one")
		}
		got := mismatches().Events
		if len(got) != 1 {
			t.Fatalf("%d refresh_retry_mismatch events, want 1", len(got))
		}
		ev := got[0]
		want := map[string]any{"first_ip_prefix": "198.51.100.0/24", "first_user_agent": "Phone/1.0",
			"retry_ip_prefix": "203.0.113.0/24", "retry_user_agent": "Laptop/2.0", "generation": float64(0)}
		for k, v := range want {
			if ev.Details[k] != v {
				t.Errorf("details[%s] = %v, want %v (details %v)", k, ev.Details[k], v, ev.Details)
			}
		}
		if ev.UserID == nil || *ev.UserID != r0.User.ID || ev.IPPrefix != "203.0.113.0/24" || ev.UserAgent != "Laptop/2.0" {
			t.Errorf("event = %+v, want the user and the retry's prefix and user agent", ev)
		}

		// Only the user agent differs: a trace too. The retries never count
		// as reuse.
		refresh(apitest.UA("Phone/1.1"), apitest.XFF("198.51.100.7"))
		if n := len(mismatches().Events); n != 2 {
			t.Fatalf("%d refresh_retry_mismatch events after a retry from another user agent, want 2", n)
		}
		if n := reuseEvents(t, s, r0.SessionID); n != 0 {
			t.Fatalf("%d reuse events, want 0", n)
		}
		csvBody, _ := getCSV(t, s, admin.AccessToken, url.Values{"type": {"refresh_retry_mismatch"}})
		if !strings.Contains(string(csvBody), "refresh_retry_mismatch") || !strings.Contains(string(csvBody), "Laptop/2.0") {
			t.Fatalf("the CSV export lacks the event:\n%s", csvBody)
		}
	})
}
