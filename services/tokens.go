package services

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// TokenConfig is the access-token slice of the configuration.
type TokenConfig struct {
	Alg        string // "HS256" or "EdDSA"
	Secret     []byte // HS256 key
	PrivateKey ed25519.PrivateKey
	Issuer     string
	Audience   string
	AccessTTL  time.Duration
}

// accessTokenType is the JOSE typ of access tokens (RFC 9068 §2.1).
const accessTokenType = "at+jwt"

// Tokens issues and verifies JWT access tokens.
type Tokens struct {
	cfg     TokenConfig
	method  jwt.SigningMethod
	signKey any
	verKey  any
	kid     string
	parser  *jwt.Parser
	revoked *Revocations
	now     Clock
}

// accessClaims are the claims of an access token (RFC 9068 plus sid, role
// and fresh). Nothing else goes in: no email, no address (JWT-13).
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	ClientID  string `json:"client_id"`
	Role      string `json:"role"`
	Fresh     bool   `json:"fresh"`
	// Cnf binds the token to a DPoP key (RFC 9449 §6.1).
	Cnf *confirmation `json:"cnf,omitempty"`
}

// confirmation is the cnf claim of a DPoP-bound token.
type confirmation struct {
	JKT string `json:"jkt"`
}

// NewTokens returns a Tokens for cfg. revoked may be nil (no revocation
// check, for benchmarks of the bare verification).
func NewTokens(cfg TokenConfig, revoked *Revocations, now Clock) (*Tokens, error) {
	t := &Tokens{cfg: cfg, revoked: revoked, now: now}
	switch cfg.Alg {
	case "", "HS256":
		if len(cfg.Secret) == 0 {
			return nil, errors.New("HS256 needs a secret")
		}
		t.method, t.signKey, t.verKey = jwt.SigningMethodHS256, cfg.Secret, cfg.Secret
		t.cfg.Alg = "HS256"
	case "EdDSA":
		if len(cfg.PrivateKey) != ed25519.PrivateKeySize {
			return nil, errors.New("EdDSA needs an Ed25519 private key")
		}
		pub := cfg.PrivateKey.Public().(ed25519.PublicKey)
		t.method, t.signKey, t.verKey = jwt.SigningMethodEdDSA, cfg.PrivateKey, pub
		sum := sha256.Sum256(pub)
		t.kid = base64.RawURLEncoding.EncodeToString(sum[:12])
	default:
		return nil, fmt.Errorf("unsupported JWT algorithm %q (HS256 or EdDSA)", cfg.Alg)
	}
	// Each key is used with exactly one algorithm (RFC 8725 §3.1), and iss,
	// aud and exp are required and checked.
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{t.method.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t, nil
}

// KeyID returns the kid of the EdDSA key, or "" for HS256.
func (t *Tokens) KeyID() string { return t.kid }

// PublicKey returns the Ed25519 verification key, or nil for HS256.
func (t *Tokens) PublicKey() ed25519.PublicKey {
	if pub, ok := t.verKey.(ed25519.PublicKey); ok {
		return pub
	}
	return nil
}

// TTL returns the access-token lifetime.
func (t *Tokens) TTL() time.Duration { return t.cfg.AccessTTL }

// Issue signs an access token for the principal's user and session.
// IssuedAt, ExpiresAt and TokenID are filled in and returned.
func (t *Tokens) Issue(p Principal) (string, Principal, error) {
	now := t.now()
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", p, fmt.Errorf("token id: %w", err)
	}
	p.TokenID = base64.RawURLEncoding.EncodeToString(jti[:])
	p.IssuedAt = now
	p.ExpiresAt = now.Add(t.cfg.AccessTTL)
	if p.ClientID == "" {
		p.ClientID = DefaultClientID
	}
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Subject:   p.UserID.String(),
			Audience:  jwt.ClaimStrings{t.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(p.ExpiresAt),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        p.TokenID,
		},
		SessionID: p.SessionID.String(),
		ClientID:  p.ClientID,
		Role:      p.Role,
		Fresh:     p.Fresh,
	}
	if p.JKT != "" {
		claims.Cnf = &confirmation{JKT: p.JKT}
	}
	tok := jwt.NewWithClaims(t.method, claims)
	tok.Header["typ"] = accessTokenType
	if t.kid != "" {
		tok.Header["kid"] = t.kid
	}
	s, err := tok.SignedString(t.signKey)
	if err != nil {
		return "", p, fmt.Errorf("sign access token: %w", err)
	}
	return s, p, nil
}

// errOtherClaims are the claim failures that make a token invalid rather
// than merely expired.
var errOtherClaims = []error{
	jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
	jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer, jwt.ErrTokenUsedBeforeIssued,
	jwt.ErrTokenNotValidYet, jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidSubject,
	jwt.ErrTokenInvalidId,
}

// maxTokenLength bounds what is handed to the JWT parser at all; an access
// token of authd is far below it.
const maxTokenLength = 4096

// Verify checks an access token and returns its principal. Returns
// CodeInvalidToken for anything not issued by this service as an access
// token (bad signature, other algorithm, wrong typ, iss or aud, missing
// claims), CodeTokenExpired only for a token that is validly signed and
// merely expired, and CodeSessionRevoked when its session was revoked. The
// principal's Role is its user's role now when that changed after the token
// was issued (Revocations.Current).
func (t *Tokens) Verify(ctx context.Context, raw string) (Principal, error) {
	p, err := t.parse(raw)
	if err != nil {
		return Principal{}, err
	}
	if t.revoked != nil {
		// Revoked sessions, and roles changed since the token was issued.
		return t.revoked.Current(ctx, p)
	}
	return p, nil
}

var (
	errInvalidToken   = &Error{Code: CodeInvalidToken, Detail: "The access token is invalid."}
	errTokenExpired   = &Error{Code: CodeTokenExpired, Detail: "The access token has expired."}
	errSessionRevoked = &Error{Code: CodeSessionRevoked, Detail: "The session has been signed out."}
)

func (t *Tokens) parse(raw string) (Principal, error) {
	if raw == "" || len(raw) > maxTokenLength {
		return Principal{}, errInvalidToken
	}
	var claims accessClaims
	_, err := t.parser.ParseWithClaims(raw, &claims, t.keyFunc)
	if err != nil {
		// The signature is checked before any claim (golang-jwt v5), and a
		// token is reported expired only when nothing else is wrong with it,
		// so a forged expired token is invalid_token (CVE-2024-51744).
		if errors.Is(err, jwt.ErrTokenExpired) && !isAny(err, errOtherClaims) {
			return Principal{}, errTokenExpired
		}
		return Principal{}, errInvalidToken
	}
	uid, err1 := uuid.Parse(claims.Subject)
	sid, err2 := uuid.Parse(claims.SessionID)
	if err1 != nil || err2 != nil || claims.ID == "" || claims.IssuedAt == nil || claims.ClientID == "" {
		return Principal{}, errInvalidToken
	}
	var jkt string
	if claims.Cnf != nil {
		if claims.Cnf.JKT == "" {
			return Principal{}, errInvalidToken
		}
		jkt = claims.Cnf.JKT
	}
	return Principal{
		JKT:       jkt,
		UserID:    uid,
		SessionID: sid,
		Role:      claims.Role,
		ClientID:  claims.ClientID,
		Fresh:     claims.Fresh,
		TokenID:   claims.ID,
		IssuedAt:  claims.IssuedAt.Time,
		ExpiresAt: claims.ExpiresAt.Time,
	}, nil
}

func isAny(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// keyFunc returns the configured key only. Keys never come from the token
// (no jwk, jku or x5u: RFC 8725 §3.10), and the explicit type is checked
// because golang-jwt does not (RFC 8725 §3.11, RFC 9068 §4).
func (t *Tokens) keyFunc(tok *jwt.Token) (any, error) {
	typ, _ := tok.Header["typ"].(string)
	if typ != accessTokenType && typ != "application/"+accessTokenType {
		return nil, errors.New("not an access token")
	}
	if tok.Method.Alg() != t.method.Alg() {
		return nil, errors.New("unexpected algorithm")
	}
	if t.kid != "" {
		if kid, _ := tok.Header["kid"].(string); kid != t.kid {
			return nil, errors.New("unknown key id")
		}
	}
	return t.verKey, nil
}
