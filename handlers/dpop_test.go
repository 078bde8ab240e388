package handlers_test

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/redistest"
)

// dpopCase makes a bad proof for method and url (token: the access token a
// resource proof names, "" for a refresh); k is the session's key, other
// another client's.
type dpopCase struct {
	name  string
	proof func(t *testing.T, k, other *apitest.DPoPKey, method, url, token string) string
}

// es256 signs input as a JWS ES256 signature (r || s, 32 bytes each).
func es256(t *testing.T, k *apitest.DPoPKey) func([]byte) []byte {
	return func(input []byte) []byte {
		sum := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, k.Key.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func claimsFor(method, url, token string) apitest.ProofClaims {
	c := apitest.ProofClaims{HTM: method, HTU: url}
	if token != "" {
		c.ATH = apitest.ATH(token)
	}
	return c
}

// badProofs are the refusals of RFC 9449 §4.3 that every DPoP check must
// make, on refreshes and on resource requests alike.
func badProofs() []dpopCase {
	return []dpopCase{
		{"missing", func(*testing.T, *apitest.DPoPKey, *apitest.DPoPKey, string, string, string) string { return "" }},
		{"wrong key", func(t *testing.T, _, other *apitest.DPoPKey, m, u, tok string) string {
			return other.Proof(t, m, u, tok)
		}},
		{"wrong method", func(t *testing.T, k, _ *apitest.DPoPKey, _, u, tok string) string { return k.Proof(t, "PUT", u, tok) }},
		{"wrong url", func(t *testing.T, k, _ *apitest.DPoPKey, m, u, tok string) string {
			return k.Proof(t, m, u[:strings.LastIndex(u, "/")]+"/other", tok)
		}},
		{"stale", func(t *testing.T, k, _ *apitest.DPoPKey, m, u, tok string) string {
			c := claimsFor(m, u, tok)
			c.IAT = k.Now().Add(-2 * time.Minute)
			return k.Sign(t, c)
		}},
		{"future", func(t *testing.T, k, _ *apitest.DPoPKey, m, u, tok string) string {
			c := claimsFor(m, u, tok)
			c.IAT = k.Now().Add(time.Minute)
			return k.Sign(t, c)
		}},
		{"alg none", func(t *testing.T, k, _ *apitest.DPoPKey, m, u, tok string) string {
			return apitest.RawProof(t, map[string]any{"alg": "none", "typ": "dpop+jwt", "jwk": k.PublicJWK()}, claimsFor(m, u, tok), k.Now, nil)
		}},
		{"hmac", func(t *testing.T, k, _ *apitest.DPoPKey, m, u, tok string) string {
			secret := []byte("0123456789abcdef0123456789abcdef")
			jwk := map[string]string{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(secret)}
			return apitest.RawProof(t, map[string]any{"alg": "HS256", "typ": "dpop+jwt", "jwk": jwk}, claimsFor(m, u, tok), k.Now,
				func(in []byte) []byte { h := hmac.New(sha256.New, secret); h.Write(in); return h.Sum(nil) })
		}},
		{"private key in jwk", func(t *testing.T, k, _ *apitest.DPoPKey, m, u, tok string) string {
			priv := jose.JSONWebKey{Key: k.Key}
			return apitest.RawProof(t, map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": priv}, claimsFor(m, u, tok), k.Now, es256(t, k))
		}},
		{"wrong typ", func(t *testing.T, k, _ *apitest.DPoPKey, m, u, tok string) string {
			return apitest.RawProof(t, map[string]any{"alg": "ES256", "typ": "JWT", "jwk": k.PublicJWK()}, claimsFor(m, u, tok), k.Now, es256(t, k))
		}},
	}
}

func refreshWith(t *testing.T, s *apitest.Server, rt, proof string) *apitest.Response {
	t.Helper()
	if proof == "" {
		return s.Refresh(t, rt)
	}
	return s.Refresh(t, rt, apitest.DPoP(proof))
}

func mustTokens(t *testing.T, r *apitest.Response, what string) apitest.Tokens {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s = %d %s, want 200", what, r.Status, r.Body)
	}
	var tok apitest.Tokens
	r.JSON(t, &tok)
	return tok
}

func wantProofRefused(t *testing.T, r *apitest.Response, what string) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || r.Code() != "invalid_dpop_proof" {
		t.Fatalf("%s = %d %s, want 401 invalid_dpop_proof", what, r.Status, r.Body)
	}
}

// accessClaims decodes the claims of an access token (no check: the
// server has verified it).
func accessClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func proofFailures(t *testing.T, s *apitest.Server) int64 {
	t.Helper()
	var n int64
	if err := s.App.DB().DB.Raw(`SELECT count(*) FROM security_events WHERE type = 'dpop_proof_failed'`).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDPoP_LoginBindsSession(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA} {
			k := apitest.NewDPoPKey(t, alg, nil)
			email, _ := s.NewUser(t, "dpop")
			tok := s.LoginDPoP(t, k, email, apitest.Password)
			if tok.TokenType != "DPoP" {
				t.Fatalf("%s: login token_type = %q, want DPoP", alg, tok.TokenType)
			}
			cnf, _ := accessClaims(t, tok.AccessToken)["cnf"].(map[string]any)
			if cnf["jkt"] != k.JKT {
				t.Fatalf("%s: access token cnf = %v, want jkt %s", alg, cnf, k.JKT)
			}
			me := s.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken), apitest.DPoP(k.Proof(t, "GET", s.URL+"/v1/me", tok.AccessToken)))
			if me.Status != http.StatusOK {
				t.Fatalf("%s: GET /v1/me with DPoP = %d %s", alg, me.Status, me.Body)
			}
			next := mustTokens(t, refreshWith(t, s, tok.RefreshToken, k.Proof(t, "POST", s.URL+"/v1/auth/refresh", "")), "refresh")
			if next.TokenType != "DPoP" {
				t.Fatalf("%s: refresh token_type = %q, want DPoP", alg, next.TokenType)
			}
		}
		// Unbound sessions are as before: Bearer.
		_, plain := s.NewUser(t, "plain")
		if plain.TokenType != "Bearer" || accessClaims(t, plain.AccessToken)["cnf"] != nil {
			t.Fatalf("unbound login = %q with cnf %v, want Bearer and no cnf", plain.TokenType, accessClaims(t, plain.AccessToken)["cnf"])
		}
		if me := s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(plain.AccessToken)); me.Status != http.StatusOK {
			t.Fatalf("unbound GET /v1/me = %d %s", me.Status, me.Body)
		}
		if r := s.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(plain.AccessToken)); r.Status != http.StatusUnauthorized {
			t.Fatalf("unbound token as DPoP = %d, want 401", r.Status)
		}
	})
}

func TestDPoP_RefreshRefusals(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		url := s.URL + "/v1/auth/refresh"
		for _, tc := range append(badProofs(), dpopCase{"replayed", nil}) {
			t.Run(tc.name, func(t *testing.T) {
				k, other := apitest.NewDPoPKey(t, jose.ES256, nil), apitest.NewDPoPKey(t, jose.EdDSA, nil)
				email, _ := s.NewUser(t, "refresh")
				tok := s.LoginDPoP(t, k, email, apitest.Password)
				rt := tok.RefreshToken
				var proof string
				if tc.proof == nil {
					// A proof that served one refresh, replayed with its child.
					proof = k.Proof(t, "POST", url, "")
					rt = mustTokens(t, refreshWith(t, s, rt, proof), "first refresh").RefreshToken
				} else {
					proof = tc.proof(t, k, other, "POST", url, "")
				}
				before := proofFailures(t, s)
				wantProofRefused(t, refreshWith(t, s, rt, proof), "refresh with a "+tc.name+" proof")
				if got := proofFailures(t, s); got != before+1 {
					t.Fatalf("dpop_proof_failed events = %d, want %d", got, before+1)
				}
				// Nothing rotated and nothing was spent: the real key goes on.
				next := mustTokens(t, refreshWith(t, s, rt, k.Proof(t, "POST", url, "")), "refresh with the real key afterwards")
				mustTokens(t, refreshWith(t, s, next.RefreshToken, k.Proof(t, "POST", url, "")), "the child's refresh")
			})
		}
	})
}

func TestDPoP_ResourceRefusals(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		url := s.URL + "/v1/me"
		k, other := apitest.NewDPoPKey(t, jose.ES256, nil), apitest.NewDPoPKey(t, jose.ES256, nil)
		email, _ := s.NewUser(t, "resource")
		tok := s.LoginDPoP(t, k, email, apitest.Password)
		used := k.Proof(t, "GET", url, tok.AccessToken)
		if r := s.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken), apitest.DPoP(used)); r.Status != http.StatusOK {
			t.Fatalf("GET /v1/me = %d %s", r.Status, r.Body)
		}
		cases := append(badProofs(),
			dpopCase{"replayed", func(*testing.T, *apitest.DPoPKey, *apitest.DPoPKey, string, string, string) string { return used }},
			dpopCase{"wrong ath", func(t *testing.T, k, _ *apitest.DPoPKey, m, u, _ string) string {
				return k.Proof(t, m, u, "another token")
			}},
			dpopCase{"downgrade to bearer", nil},
		)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var r *apitest.Response
				if tc.proof == nil {
					r = s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken), apitest.DPoP(k.Proof(t, "GET", url, tok.AccessToken)))
				} else if p := tc.proof(t, k, other, "GET", url, tok.AccessToken); p == "" {
					r = s.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken))
				} else {
					r = s.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken), apitest.DPoP(p))
				}
				if r.Status != http.StatusUnauthorized {
					t.Fatalf("GET /v1/me with a %s proof = %d %s, want 401", tc.name, r.Status, r.Body)
				}
				if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "DPoP error=") || !strings.Contains(ch, `algs="`) {
					t.Fatalf("WWW-Authenticate = %q, want a DPoP challenge", ch)
				}
				ok := s.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken), apitest.DPoP(k.Proof(t, "GET", url, tok.AccessToken)))
				if ok.Status != http.StatusOK {
					t.Fatalf("GET /v1/me with the real key afterwards = %d %s", ok.Status, ok.Body)
				}
			})
		}
	})
}

// TestDPoP_GraceAndReuse: the grace retry answers the same child to the
// bound key only; a rotated token with a valid proof is reuse as ever, and
// without the key it is a proof failure that leaves the family alone (the
// documented decision: a thief without the key can neither use a token
// nor sign its owner out with it).
func TestDPoP_GraceAndReuse(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		url := s.URL + "/v1/auth/refresh"
		k, other := apitest.NewDPoPKey(t, jose.ES256, nil), apitest.NewDPoPKey(t, jose.ES256, nil)
		email, _ := s.NewUser(t, "grace")
		r0 := s.LoginDPoP(t, k, email, apitest.Password).RefreshToken
		r1 := mustTokens(t, refreshWith(t, s, r0, k.Proof(t, "POST", url, "")), "first refresh").RefreshToken
		wantProofRefused(t, refreshWith(t, s, r0, other.Proof(t, "POST", url, "")), "grace retry with another key")
		wantProofRefused(t, refreshWith(t, s, r0, ""), "grace retry without a proof")
		retry := mustTokens(t, refreshWith(t, s, r0, k.Proof(t, "POST", url, "")), "grace retry with the bound key")
		if retry.RefreshToken != r1 {
			t.Fatalf("grace retry answered another child")
		}
		r2 := mustTokens(t, refreshWith(t, s, r1, k.Proof(t, "POST", url, "")), "refresh of the child").RefreshToken
		// r0 is plain reuse now. Without the key: refused, family alive.
		wantProofRefused(t, refreshWith(t, s, r0, other.Proof(t, "POST", url, "")), "replay of a rotated token with another key")
		r3 := mustTokens(t, refreshWith(t, s, r2, k.Proof(t, "POST", url, "")), "the head after a keyless replay").RefreshToken
		// With the key: reuse, the family dies.
		if r := refreshWith(t, s, r0, k.Proof(t, "POST", url, "")); r.Code() != "refresh_token_reused" {
			t.Fatalf("replay of a rotated token with the key = %d %s, want refresh_token_reused", r.Status, r.Body)
		}
		if r := refreshWith(t, s, r3, k.Proof(t, "POST", url, "")); r.Status != http.StatusUnauthorized {
			t.Fatalf("the head after reuse = %d %s, want 401", r.Status, r.Body)
		}
	})
}

// TestDPoP_ReplayOnSecondInstance: two instances on one database and one
// Redis refuse a proof used on the other.
func TestDPoP_ReplayOnSecondInstance(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			redisURL, prefix := redistest.Shared(t)
			env := map[string]string{"AUTHD_REDIS_URL": redisURL, "AUTHD_RATE_PREFIX": prefix,
				"AUTHD_PUBLIC_URL": "https://auth.example.test"}
			a := apitest.New(t, apitest.Options{Dialect: dialect, Env: env})
			b := apitest.New(t, apitest.Options{Env: env, DatabaseURL: a.DatabaseURL, SQLitePath: a.SQLitePath})
			k := apitest.NewDPoPKey(t, jose.ES256, nil)
			email, _ := a.NewUser(t, "instances")
			login := k.Proof(t, "POST", "https://auth.example.test/v1/auth/login", "")
			tok := a.Login(t, email, apitest.Password, apitest.DPoP(login))
			me := k.Proof(t, "GET", "https://auth.example.test/v1/me", tok.AccessToken)
			if r := a.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken), apitest.DPoP(me)); r.Status != http.StatusOK {
				t.Fatalf("GET /v1/me on a = %d %s", r.Status, r.Body)
			}
			if r := b.Do(t, "GET", "/v1/me", nil, apitest.DPoPAuth(tok.AccessToken), apitest.DPoP(me)); r.Code() != "invalid_dpop_proof" {
				t.Fatalf("the same proof on b = %d %s, want invalid_dpop_proof", r.Status, r.Body)
			}
			refresh := "https://auth.example.test/v1/auth/refresh"
			p := k.Proof(t, "POST", refresh, "")
			next := mustTokens(t, refreshWith(t, a, tok.RefreshToken, p), "refresh on a")
			wantProofRefused(t, refreshWith(t, b, next.RefreshToken, p), "the refresh proof replayed on b")
			mustTokens(t, refreshWith(t, b, next.RefreshToken, k.Proof(t, "POST", refresh, "")), "a fresh proof on b")
		})
	}
}
