package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authd/authd/internal/apitest"
)

// TestDPoP_Nonce: with AUTHD_DPOP_NONCE=true a proof without the server's
// nonce is use_dpop_nonce with a DPoP-Nonce to retry with, and the nonce of
// one instance is good on another (stateless, the key is the database's).
// Their rotation is TestDPoP_NonceRotates (services).
func TestDPoP_Nonce(t *testing.T) {
	env := map[string]string{"AUTHD_DPOP_NONCE": "true", "AUTHD_PUBLIC_URL": "https://auth.example.test"}
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			a := apitest.New(t, apitest.Options{Dialect: dialect, Env: env})
			b := apitest.New(t, apitest.Options{Env: env, DatabaseURL: a.DatabaseURL, SQLitePath: a.SQLitePath})
			k := apitest.NewDPoPKey(t, jose.ES256, nil)
			email, _ := a.NewUser(t, "nonce")
			loginURL := "https://auth.example.test/v1/auth/login"
			body := map[string]string{"email": email, "password": apitest.Password}
			r := a.Do(t, "POST", "/v1/auth/login", body, apitest.DPoP(k.Proof(t, "POST", loginURL, "")))
			nonce := r.Header.Get("DPoP-Nonce")
			if r.Status != http.StatusUnauthorized || r.Code() != "use_dpop_nonce" || nonce == "" {
				t.Fatalf("login without a nonce = %d %s (DPoP-Nonce %q), want 401 use_dpop_nonce with a nonce", r.Status, r.Body, nonce)
			}
			// The nonce of a, at b.
			r = b.Do(t, "POST", "/v1/auth/login", body, apitest.DPoP(k.Sign(t, apitest.ProofClaims{HTM: "POST", HTU: loginURL, Nonce: nonce})))
			tok := mustTokens(t, r, "login at b with a's nonce")
			if tok.TokenType != "DPoP" {
				t.Fatalf("token_type = %q, want DPoP", tok.TokenType)
			}
			meURL := "https://auth.example.test/v1/me"
			r = a.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken), apitest.DPoP(k.Proof(t, "GET", meURL, tok.AccessToken)))
			if r.Code() != "use_dpop_nonce" || r.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("GET /v1/me without a nonce = %d %s, want use_dpop_nonce with a challenge", r.Status, r.Body)
			}
			me := k.Sign(t, apitest.ProofClaims{HTM: "GET", HTU: meURL, ATH: apitest.ATH(tok.AccessToken), Nonce: nonce})
			if r := a.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken), apitest.DPoP(me)); r.Status != http.StatusOK {
				t.Fatalf("GET /v1/me with the nonce = %d %s", r.Status, r.Body)
			}
			refreshURL := "https://auth.example.test/v1/auth/refresh"
			mustTokens(t, a.Refresh(t, tok.RefreshToken, apitest.DPoP(k.Sign(t, apitest.ProofClaims{HTM: "POST", HTU: refreshURL, Nonce: nonce}))),
				"refresh with the nonce")
		})
	}
}

// TestDPoP_RequiredClients: a client of AUTHD_DPOP_REQUIRED_CLIENTS cannot
// sign in without a proof; other clients can.
func TestDPoP_RequiredClients(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: map[string]string{"AUTHD_DPOP_REQUIRED_CLIENTS": "mobile, spa"}}, func(t *testing.T, s *apitest.Server) {
		email, _ := s.NewUser(t, "required")
		body := map[string]string{"email": email, "password": apitest.Password, "client_id": "mobile"}
		wantProofRefused(t, s.Do(t, "POST", "/v1/auth/login", body), "login of a required client without a proof")
		k := apitest.NewDPoPKey(t, jose.EdDSA, nil)
		r := s.Do(t, "POST", "/v1/auth/login", body, apitest.DPoP(k.Proof(t, "POST", s.URL+"/v1/auth/login", "")))
		if tok := mustTokens(t, r, "login of a required client with a proof"); tok.TokenType != "DPoP" {
			t.Fatalf("token_type = %q, want DPoP", tok.TokenType)
		}
		body["client_id"] = "web"
		mustTokens(t, s.Do(t, "POST", "/v1/auth/login", body), "login of another client without a proof")
	})
}

// TestDPoP_OAuthTokenAndSessions: /oauth/token takes the same proofs (400
// invalid_dpop_proof, RFC 9449 §5), sessions show dpop_bound, and a stolen
// refresh or bound access token alone signs nobody out.
func TestDPoP_OAuthTokenAndSessions(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		k := apitest.NewDPoPKey(t, jose.ES256, nil)
		email, plain := s.NewUser(t, "oauth")
		tok := s.LoginDPoP(t, k, email, apitest.Password)
		form := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok.RefreshToken)
		r := postForm(t, s, "/oauth/token", form)
		if r.Status != http.StatusBadRequest || r.Map(t)["error"] != "invalid_dpop_proof" {
			t.Fatalf("oauth refresh without a proof = %d %s, want 400 invalid_dpop_proof", r.Status, r.Body)
		}
		r = postForm(t, s, "/oauth/token", form, apitest.DPoP(k.Proof(t, "POST", s.URL+"/oauth/token", "")))
		if r.Status != http.StatusOK || r.Map(t)["token_type"] != "DPoP" {
			t.Fatalf("oauth refresh with a proof = %d %s, want 200 DPoP", r.Status, r.Body)
		}
		next := r.Map(t)
		access, refresh := next["access_token"].(string), next["refresh_token"].(string)

		list := s.Do(t, "GET", "/v1/sessions", nil, apitest.DPoPAuth(access), apitest.DPoP(k.Proof(t, "GET", s.URL+"/v1/sessions", access)))
		var out struct {
			Sessions []struct {
				ID        string `json:"id"`
				DPoPBound bool   `json:"dpop_bound"`
			} `json:"sessions"`
		}
		list.JSON(t, &out)
		bound := map[string]bool{}
		for _, x := range out.Sessions {
			bound[x.ID] = x.DPoPBound
		}
		if !bound[tok.SessionID] || bound[plain.SessionID] {
			t.Fatalf("dpop_bound = %v, want true for %s only", bound, tok.SessionID)
		}
		// The admin view says the same.
		_, admin := newAdmin(t, s)
		r = s.Do(t, "GET", "/v1/admin/users/"+tok.User.ID+"/sessions", nil, apitest.Bearer(admin.AccessToken))
		var adminOut struct {
			Sessions []struct {
				ID        string `json:"id"`
				DPoPBound bool   `json:"dpop_bound"`
			} `json:"sessions"`
		}
		r.JSON(t, &adminOut)
		for _, x := range adminOut.Sessions {
			if x.DPoPBound != (x.ID == tok.SessionID) {
				t.Fatalf("admin view: session %s dpop_bound = %v", x.ID, x.DPoPBound)
			}
		}
		if len(adminOut.Sessions) != 2 {
			t.Fatalf("admin view lists %d sessions (%d %s), want 2", len(adminOut.Sessions), r.Status, r.Body)
		}

		// Without the key, logout and revocation end nothing.
		if r := s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": refresh}); r.Status != http.StatusNoContent {
			t.Fatalf("logout = %d", r.Status)
		}
		if r := s.Do(t, "POST", "/v1/auth/logout", nil, apitest.Bearer(access)); r.Status != http.StatusNoContent {
			t.Fatalf("logout by access token = %d", r.Status)
		}
		postForm(t, s, "/oauth/revoke", "token="+url.QueryEscape(access))
		me := func() int {
			return s.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(access), apitest.DPoP(k.Proof(t, "GET", s.URL+"/v1/me", access))).Status
		}
		if got := me(); got != http.StatusOK {
			t.Fatalf("GET /v1/me after keyless sign-outs = %d, want 200", got)
		}
		// With the key it signs out.
		r = s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": refresh}, apitest.DPoP(k.Proof(t, "POST", s.URL+"/v1/auth/logout", "")))
		if r.Status != http.StatusNoContent || me() != http.StatusUnauthorized {
			t.Fatalf("logout with the key = %d, then GET /v1/me = %d, want 204 then 401", r.Status, me())
		}
	})
}

// TestDPoP_Discovery: RFC 8414 metadata with the proof algorithms.
func TestDPoP_Discovery(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: map[string]string{"AUTHD_PUBLIC_URL": "https://auth.example.test/"}})
	r := s.Do(t, "GET", "/.well-known/oauth-authorization-server", nil)
	m := r.Map(t)
	if r.Status != http.StatusOK || m["issuer"] != "https://auth.example.test" || m["token_endpoint"] != "https://auth.example.test/oauth/token" ||
		m["revocation_endpoint"] != "https://auth.example.test/oauth/revoke" || m["jwks_uri"] != "https://auth.example.test/.well-known/jwks.json" {
		t.Fatalf("metadata = %d %v", r.Status, m)
	}
	var algs []string
	for _, a := range m["dpop_signing_alg_values_supported"].([]any) {
		algs = append(algs, a.(string))
	}
	if !slices.Contains(algs, "ES256") || !slices.Contains(algs, "EdDSA") || slices.Contains(algs, "none") || slices.Contains(algs, "HS256") {
		t.Fatalf("dpop_signing_alg_values_supported = %v", algs)
	}
}
