package services

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// FuzzParseRefreshToken: whatever a client sends as a refresh token, the
// parser accepts only the one canonical "<id>.<secret>" form and never
// panics.
func FuzzParseRefreshToken(f *testing.F) {
	valid, err := newRefreshToken()
	if err != nil {
		f.Fatal(err)
	}
	v := valid.String()
	for _, s := range []string{
		v, "", ".", v + "=", v + ".", "." + v, strings.Replace(v, ".", "..", 1),
		strings.Replace(v, ".", "", 1), strings.Repeat("A", encodedIDLen) + "." + strings.Repeat("A", encodedSecret),
		strings.Repeat("/", encodedIDLen) + "." + strings.Repeat("+", encodedSecret),
		v[:len(v)-1] + "B", v[:len(v)-1] + "\x00", "é" + v[2:], strings.Repeat("x", 4096),
		base64.URLEncoding.EncodeToString(valid.ID[:]) + "." + base64.URLEncoding.EncodeToString(valid.Secret),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, ok := parseRefreshToken(s)
		if !ok {
			if tok.ID != uuid.Nil || tok.Secret != nil {
				t.Fatalf("parseRefreshToken(%q) = %+v, false; want the zero token with false", s, tok)
			}
			return
		}
		if len(tok.Secret) != secretLen {
			t.Fatalf("parseRefreshToken(%q) secret is %d bytes, want %d", s, len(tok.Secret), secretLen)
		}
		// One token, one spelling: a second spelling of the same token
		// would slip past anything keyed on the raw string.
		if got := tok.String(); got != s {
			t.Fatalf("parseRefreshToken(%q) accepted a non-canonical form of %q", s, got)
		}
	})
}

// FuzzTokens_Verify: a hostile access token is invalid_token,
// token_expired or a valid token we issued, never a panic and never
// another identity.
func FuzzTokens_Verify(f *testing.F) {
	now := time.Date(2026, 11, 22, 21, 4, 5, 0, time.UTC)
	secret := []byte("0123456789abcdef0123456789abcdef")
	tokens, err := NewTokens(TokenConfig{Alg: "HS256", Secret: secret, Issuer: "authd", Audience: "authd",
		AccessTTL: 15 * time.Minute}, nil, func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	// Fixed values: each fuzz worker runs this set-up again, and the
	// inputs the coordinator sends must mean the same thing there.
	p := Principal{UserID: uuid.MustParse("0196b1a2-0000-7000-8000-000000000001"),
		SessionID: uuid.MustParse("0196b1a2-0000-7000-8000-000000000002"), Role: "user", ClientID: "default"}
	issued, _, err := tokens.Issue(p)
	if err != nil {
		f.Fatal(err)
	}
	edKey := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	claims := jwt.MapClaims{"iss": "authd", "aud": "authd", "sub": p.UserID.String(), "sid": p.SessionID.String(),
		"client_id": "default", "jti": "x", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "role": "admin"}
	signed := func(m jwt.SigningMethod, key any) string {
		tok := jwt.NewWithClaims(m, claims)
		tok.Header["typ"] = "at+jwt"
		s, err := tok.SignedString(key)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	parts := strings.Split(issued, ".")
	for _, s := range []string{
		issued, "", ".", "..", "a.b.c", issued + ".", issued[:len(issued)-2],
		parts[0] + "." + parts[1] + ".", // no signature
		signed(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
		signed(jwt.SigningMethodEdDSA, edKey),
		signed(jwt.SigningMethodHS256, []byte("another secret, another issuer!!")),
		signed(jwt.SigningMethodHS512, secret),
		strings.Repeat("A", 9000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := tokens.Verify(context.Background(), raw)
		if err != nil {
			switch code := ErrorCode(err); code {
			case CodeInvalidToken, CodeTokenExpired:
			default:
				t.Fatalf("Verify(%q) code = %q, want invalid_token or token_expired", raw, code)
			}
			return
		}
		// Only a token signed with our key verifies; the fuzzer has no
		// key, so anything accepted must carry the identity we issued.
		if got.UserID != p.UserID || got.SessionID != p.SessionID || got.Role != p.Role {
			t.Fatalf("Verify(%q) = %+v, want only the issued principal %+v", raw, got, p)
		}
	})
}
