package apitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoPKey is a client's DPoP key (RFC 9449) that signs proofs.
type DPoPKey struct {
	Alg  jose.SignatureAlgorithm
	Key  crypto.Signer
	JKT  string // RFC 7638 thumbprint of the public key
	Now  func() time.Time
	jwk  jose.JSONWebKey
	sign jose.Signer
}

// NewDPoPKey returns a fresh key for alg (jose.ES256 or jose.EdDSA).
// Proofs carry iat from now (time.Now when nil).
func NewDPoPKey(t testing.TB, alg jose.SignatureAlgorithm, now func() time.Time) *DPoPKey {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("NewDPoPKey: unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	if now == nil {
		now = time.Now
	}
	k := &DPoPKey{Alg: alg, Key: key, Now: now, jwk: jose.JSONWebKey{Key: key.Public()}}
	thumb, err := k.jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	k.JKT = base64.RawURLEncoding.EncodeToString(thumb)
	k.sign, err = jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ProofClaims are the claims of a proof. Zero JTI and IAT are filled in
// (a fresh random jti, the key's clock).
type ProofClaims struct {
	JTI   string
	HTM   string
	HTU   string
	IAT   time.Time
	ATH   string
	Nonce string
}

// Claims returns the JSON claims of a proof.
func (c ProofClaims) json(t testing.TB, now func() time.Time) []byte {
	t.Helper()
	if c.JTI == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		c.JTI = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if c.IAT.IsZero() {
		c.IAT = now()
	}
	m := map[string]any{"jti": c.JTI, "htm": c.HTM, "htu": c.HTU, "iat": c.IAT.Unix()}
	if c.ATH != "" {
		m["ath"] = c.ATH
	}
	if c.Nonce != "" {
		m["nonce"] = c.Nonce
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sign signs a proof with claims c.
func (k *DPoPKey) Sign(t testing.TB, c ProofClaims) string {
	t.Helper()
	jws, err := k.sign.Sign(c.json(t, k.Now))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Proof signs a fresh proof for method and url (s.URL + path), naming
// accessToken in ath when it is not "".
func (k *DPoPKey) Proof(t testing.TB, method, url, accessToken string) string {
	t.Helper()
	c := ProofClaims{HTM: method, HTU: url}
	if accessToken != "" {
		c.ATH = ATH(accessToken)
	}
	return k.Sign(t, c)
}

// ATH is the ath claim of a proof for accessToken.
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PublicJWK returns the key's public JWK.
func (k *DPoPKey) PublicJWK() jose.JSONWebKey { return k.jwk }

// RawProof assembles a compact JWS from a header and claims and signs it
// with sign (nil: no signature, as alg none has). For proofs that no
// well-behaved library produces: alg none, HMAC, a private key in jwk.
func RawProof(t testing.TB, header map[string]any, claims ProofClaims, now func() time.Time, sign func(input []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	if now == nil {
		now = time.Now
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(claims.json(t, now))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// DPoP returns a DPoP header with a proof.
func DPoP(proof string) Header { return Header{"DPoP", proof} }

// DPoPAuth returns an Authorization header for a DPoP-bound access token.
func DPoPAuth(token string) Header { return Header{"Authorization", "DPoP " + token} }

// LoginDPoP signs in with a proof of k and fails t unless it answers 200.
func (s *Server) LoginDPoP(t testing.TB, k *DPoPKey, email, password string, headers ...Header) Tokens {
	t.Helper()
	h := append([]Header{DPoP(k.Proof(t, "POST", s.URL+"/v1/auth/login", ""))}, headers...)
	return s.Login(t, email, password, h...)
}
