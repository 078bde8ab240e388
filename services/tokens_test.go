package services

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func fixedClock(t time.Time) Clock { return func() time.Time { return t } }

func newHS(t *testing.T, now Clock) *Tokens {
	t.Helper()
	tok, err := NewTokens(TokenConfig{Alg: "HS256", Secret: testSecret, Issuer: "authd", Audience: "authd", AccessTTL: 15 * time.Minute}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newEd(t *testing.T, now Clock) (*Tokens, ed25519.PrivateKey) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	tok, err := NewTokens(TokenConfig{Alg: "EdDSA", PrivateKey: priv, Issuer: "authd", Audience: "authd", AccessTTL: 15 * time.Minute}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok, priv
}

func testPrincipal() Principal {
	return Principal{UserID: uuid.New(), SessionID: uuid.New(), Role: "user", ClientID: "default"}
}

// claims returns valid claims at now, which a case then changes.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "authd", "aud": []string{"authd"}, "sub": uuid.NewString(), "sid": uuid.NewString(),
		"client_id": "default", "jti": "abc", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"role": "user", "fresh": false,
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = "at+jwt"
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokens_IssueVerifyRoundTrip(t *testing.T) {
	now := time.Now().UTC()
	tokens := newHS(t, fixedClock(now))
	p := testPrincipal()
	p.Fresh = true
	raw, issued, err := tokens.Issue(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify(issued) error = %v", err)
	}
	if got.UserID != p.UserID || got.SessionID != p.SessionID || !got.Fresh || got.TokenID != issued.TokenID || got.ClientID != "default" {
		t.Fatalf("Verify() = %+v, want the issued principal %+v", got, issued)
	}
	// JWT-09, JWT-13: every RFC 9068 claim, and nothing personal.
	parts := strings.Split(raw, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti", "sid", "role", "fresh"} {
		if _, ok := m[c]; !ok {
			t.Errorf("claim %q missing from %s", c, payload)
		}
	}
	if len(m) != 10 {
		t.Errorf("claims = %v, want exactly the contract's ten", m)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(header), `"typ":"at+jwt"`) {
		t.Errorf("header %s lacks typ at+jwt", header)
	}
}

func TestTokens_JTIUnique(t *testing.T) {
	tokens := newHS(t, SystemClock)
	seen := make(map[string]bool)
	for i := 0; i < 1000; i++ {
		_, p, err := tokens.Issue(testPrincipal())
		if err != nil {
			t.Fatal(err)
		}
		if seen[p.TokenID] {
			t.Fatalf("jti %q issued twice", p.TokenID)
		}
		seen[p.TokenID] = true
	}
}

// JWT-01..JWT-08, JWT-12: what must be refused, and with which code.
func TestTokens_VerifyRefuses(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	hs := newHS(t, fixedClock(now))
	ed, edPriv := newEd(t, fixedClock(now))
	_, foreignEd, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	good, _, _ := hs.Issue(testPrincipal())

	// A jku listener that must never be contacted.
	var jkuHits atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { jkuHits.Add(1) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := validClaims(now)
		change(c)
		return c
	}
	flip := func(s string) string {
		parts := strings.Split(s, ".")
		payload := []byte(parts[1])
		payload[5] ^= 0x01
		parts[1] = string(payload)
		return strings.Join(parts, ".")
	}
	attackerPub, attackerPriv, _ := ed25519.GenerateKey(rand.Reader)
	edPub := edPriv.Public().(ed25519.PublicKey)

	tests := []struct {
		name     string
		tokens   *Tokens
		raw      string
		wantCode string
	}{
		{"payload byte flipped", hs, flip(good), CodeInvalidToken},
		{"signature removed", hs, good[:strings.LastIndex(good, ".")+1], CodeInvalidToken},
		{"no signature segment", hs, good[:strings.LastIndex(good, ".")], CodeInvalidToken},
		{"alg none", hs, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, validClaims(now)), CodeInvalidToken},
		{"HS512", hs, sign(t, jwt.SigningMethodHS512, testSecret, nil, validClaims(now)), CodeInvalidToken},
		{"RS256", hs, sign(t, jwt.SigningMethodRS256, rsaKey, nil, validClaims(now)), CodeInvalidToken},
		{"EdDSA token at HS256 server", hs, sign(t, jwt.SigningMethodEdDSA, foreignEd, nil, validClaims(now)), CodeInvalidToken},
		{"key confusion: HS256 MACed with the Ed25519 public key", ed, sign(t, jwt.SigningMethodHS256, []byte(edPub), map[string]any{"kid": ed.KeyID()}, validClaims(now)), CodeInvalidToken},
		{"foreign Ed25519 key with our kid", ed, sign(t, jwt.SigningMethodEdDSA, foreignEd, map[string]any{"kid": ed.KeyID()}, validClaims(now)), CodeInvalidToken},
		{"embedded jwk header", ed, sign(t, jwt.SigningMethodEdDSA, attackerPriv, map[string]any{"kid": ed.KeyID(),
			"jwk": map[string]string{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attackerPub)}}, validClaims(now)), CodeInvalidToken},
		{"jku header", ed, sign(t, jwt.SigningMethodEdDSA, attackerPriv, map[string]any{"kid": ed.KeyID(), "jku": "http://" + ln.Addr().String() + "/jwks"}, validClaims(now)), CodeInvalidToken},
		{"unknown kid", ed, sign(t, jwt.SigningMethodEdDSA, edPriv, map[string]any{"kid": "other"}, validClaims(now)), CodeInvalidToken},
		{"kid with SQL and path characters", ed, sign(t, jwt.SigningMethodEdDSA, edPriv, map[string]any{"kid": "' OR 1=1;--/../../etc/passwd"}, validClaims(now)), CodeInvalidToken},
		{"expired", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })), CodeTokenExpired},
		{"exp exactly now", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["exp"] = now.Unix() })), CodeTokenExpired},
		{"expired and badly signed", hs, sign(t, jwt.SigningMethodHS256, []byte("another secret of thirty-two b!!"), nil, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })), CodeInvalidToken},
		{"expired and wrong audience", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix(); c["aud"] = "other" })), CodeInvalidToken},
		{"no exp", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { delete(c, "exp") })), CodeInvalidToken},
		{"nbf in the future", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })), CodeInvalidToken},
		{"iat in the future", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })), CodeInvalidToken},
		{"no iat", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { delete(c, "iat") })), CodeInvalidToken},
		{"typ JWT", hs, sign(t, jwt.SigningMethodHS256, testSecret, map[string]any{"typ": "JWT"}, validClaims(now)), CodeInvalidToken},
		{"no typ", hs, sign(t, jwt.SigningMethodHS256, testSecret, map[string]any{"typ": nil}, validClaims(now)), CodeInvalidToken},
		{"aud other", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["aud"] = "other" })), CodeInvalidToken},
		{"aud empty list", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["aud"] = []string{} })), CodeInvalidToken},
		{"iss with a trailing space", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["iss"] = "authd " })), CodeInvalidToken},
		{"iss upper case", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["iss"] = "AUTHD" })), CodeInvalidToken},
		{"sub not a uuid", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { c["sub"] = "admin" })), CodeInvalidToken},
		{"no sid", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { delete(c, "sid") })), CodeInvalidToken},
		{"no jti", hs, sign(t, jwt.SigningMethodHS256, testSecret, nil, with(func(c jwt.MapClaims) { delete(c, "jti") })), CodeInvalidToken},
		{"refresh token as bearer", hs, "tpcmVrlGTmugGSCggOL3Kg.jCNtq2AW8FOWmlylixXdgE5TpDFsAQrdU_GPHz1800Y", CodeInvalidToken},
		{"1 MB of dots", hs, strings.Repeat(".", 1<<20), CodeInvalidToken},
		{"empty", hs, "", CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.tokens.Verify(context.Background(), tt.raw)
			if got := ErrorCode(err); got != tt.wantCode {
				t.Fatalf("Verify() code = %q (%v), want %q", got, err, tt.wantCode)
			}
		})
	}
	if n := jkuHits.Load(); n != 0 {
		t.Errorf("the jku URL was fetched %d times, want never", n)
	}
}

func TestTokens_AudienceListContainingOurs(t *testing.T) {
	now := time.Now().UTC()
	hs := newHS(t, fixedClock(now))
	c := validClaims(now)
	c["aud"] = []string{"other", "authd"}
	if _, err := hs.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, nil, c)); err != nil {
		t.Fatalf("Verify(aud [other authd]) error = %v, want accepted", err)
	}
}

func TestTokens_RevokedSession(t *testing.T) {
	now := time.Now().UTC()
	rev := NewRevocations(nil, 15*time.Minute, fixedClock(now))
	tokens, err := NewTokens(TokenConfig{Alg: "HS256", Secret: testSecret, Issuer: "authd", Audience: "authd", AccessTTL: time.Minute}, rev, fixedClock(now))
	if err != nil {
		t.Fatal(err)
	}
	p := testPrincipal()
	raw, _, _ := tokens.Issue(p)
	if _, err := tokens.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify() before revocation = %v", err)
	}
	rev.Add(p.SessionID, now)
	if _, err := tokens.Verify(context.Background(), raw); ErrorCode(err) != CodeSessionRevoked {
		t.Fatalf("Verify() after revocation code = %q, want session_revoked", ErrorCode(err))
	}
}

func BenchmarkTokens_Verify(b *testing.B) {
	for _, alg := range []string{"HS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			cfg := TokenConfig{Alg: alg, Secret: testSecret, Issuer: "authd", Audience: "authd", AccessTTL: 15 * time.Minute}
			if alg == "EdDSA" {
				_, cfg.PrivateKey, _ = ed25519.GenerateKey(rand.Reader)
			}
			rev := NewRevocations(nil, 15*time.Minute, SystemClock)
			tokens, err := NewTokens(cfg, rev, SystemClock)
			if err != nil {
				b.Fatal(err)
			}
			raw, _, _ := tokens.Issue(testPrincipal())
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tokens.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
