package services

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// The algorithms SETs can be signed with. RS256 is what SSF receivers are
// sure to accept; EdDSA (Ed25519) is smaller and faster.
const (
	SETAlgRS256 = "RS256"
	SETAlgEdDSA = "EdDSA"
)

// setKeyNames name the SET signing keys in server_keys, one per algorithm.
var setKeyNames = map[string]string{SETAlgRS256: "ssf_set_rs256_v1", SETAlgEdDSA: "ssf_set_eddsa_v1"}

// SETKey is the asymmetric key SETs are signed with. It is separate from
// the access-token key (which may be an HS256 secret), shared by every
// instance on the database, and its public half is published at the SSF
// jwks_uri.
type SETKey struct {
	alg    string
	kid    string
	signer jose.Signer
	public jose.JSONWebKey
}

// LoadSETKey returns the SET signing key of alg, generating it on first
// use and storing it (PKCS #8) in server_keys so every instance signs with
// the same key.
func LoadSETKey(ctx context.Context, db *gorm.DB, alg string) (*SETKey, error) {
	name, ok := setKeyNames[alg]
	if !ok {
		return nil, fmt.Errorf("SET key: unknown algorithm %q", alg)
	}
	candidate, err := newSETKey(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(candidate)
	if err != nil {
		return nil, fmt.Errorf("SET key: %w", err)
	}
	stored, err := models.EnsureServerKey(ctx, db, name, der, time.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("SET key: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(stored)
	if err != nil {
		return nil, fmt.Errorf("SET key: stored key: %w", err)
	}
	return NewSETKey(alg, key)
}

func newSETKey(alg string) (crypto.Signer, error) {
	switch alg {
	case SETAlgRS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	default:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
}

// NewSETKey wraps a private key (RSA of at least 2048 bits for RS256,
// Ed25519 for EdDSA).
func NewSETKey(alg string, key any) (*SETKey, error) {
	var pub any
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg != SETAlgRS256 || k.N.BitLen() < 2048 {
			return nil, errors.New("SET key: RS256 needs an RSA key of at least 2048 bits")
		}
		pub = &k.PublicKey
	case ed25519.PrivateKey:
		if alg != SETAlgEdDSA {
			return nil, errors.New("SET key: an Ed25519 key signs EdDSA")
		}
		pub = k.Public()
	default:
		return nil, fmt.Errorf("SET key: unsupported key type %T", key)
	}
	jwk := jose.JSONWebKey{Key: pub, Algorithm: alg, Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("SET key: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
		(&jose.SignerOptions{}).WithType("secevent+jwt").WithHeader(jose.HeaderKey("kid"), jwk.KeyID))
	if err != nil {
		return nil, fmt.Errorf("SET key: %w", err)
	}
	return &SETKey{alg: alg, kid: jwk.KeyID, signer: signer, public: jwk}, nil
}

// JWKS returns the public key set (RFC 7517) to verify SETs with.
func (k *SETKey) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.public}}
}

// Sign returns the compact JWS of payload, with typ secevent+jwt and kid.
func (k *SETKey) Sign(payload []byte) (string, error) {
	obj, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign SET: %w", err)
	}
	return obj.CompactSerialize()
}

// keyHash is SHA-256 of a bearer token, as receiver tokens are stored.
func keyHash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
