package services

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/authd/authd/models/emailaddr"
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

// FuzzNormalizeEmail: an email is refused with invalid_request and a reason,
// or normalised to a form that normalises to itself (one spelling, one
// account), has no forbidden character, fits SMTP's 254 bytes, and has an
// ASCII domain with a dot.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"bob@example.com", " Bob@Example.COM ", "bob@bücher.example", "bob@xn--bcher-kva.example",
		"ｂｏｂ@ｅｘａｍｐｌｅ.com", "Straße@example.com", "ℌello@example.com", "bo\u200bb@example.com",
		"p\u0430ypal@example.com", "bob@localhost", "bob@[192.0.2.1]", "bob@192.0.2.1", "bob@exa_mple.com",
		"Иван@пример.рф", "a@b@c", "bob@example.com.", "\ufeff", strings.Repeat("a", 300) + "@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := NormalizeEmail(s)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Code != CodeInvalidRequest || se.Detail == "" {
				t.Fatalf("NormalizeEmail(%q) = %v, want invalid_request with a reason", s, err)
			}
			return
		}
		if again, err := NormalizeEmail(e); again != e || err != nil {
			t.Fatalf("NormalizeEmail(%q) = %q, but NormalizeEmail(%q) = %q, %v", s, e, e, again, err)
		}
		if len(e) > emailaddr.MaxLength || !utf8.ValidString(e) {
			t.Fatalf("NormalizeEmail(%q) = %q: %d bytes, valid UTF-8 %v", s, e, len(e), utf8.ValidString(e))
		}
		if i := strings.IndexFunc(e, func(r rune) bool { return emailaddr.Forbidden(r) || unicode.IsSpace(r) }); i >= 0 {
			t.Fatalf("NormalizeEmail(%q) = %q has a forbidden character at %d", s, e, i)
		}
		local, domain, ok := strings.Cut(e, "@")
		if !ok || local == "" || strings.Contains(domain, "@") || !strings.Contains(domain, ".") {
			t.Fatalf("NormalizeEmail(%q) = %q, want one @, a local part and a domain with a dot", s, e)
		}
		for i := 0; i < len(domain); i++ {
			if c := domain[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
				t.Fatalf("NormalizeEmail(%q) = %q, want the domain in lower-case ASCII", s, e)
			}
		}
	})
}
