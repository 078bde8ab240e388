package services

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// A refresh token is "<id>.<secret>": the token row's UUID and 256 random
// bits, both base64url without padding. Only SHA-256(secret) is stored; a
// plain hash is enough for a 256-bit random secret (it cannot be brute
// forced), and it keeps the hot path cheap.
const (
	secretLen       = 32
	encodedIDLen    = 22 // base64url of 16 bytes
	encodedSecret   = 43 // base64url of 32 bytes
	refreshTokenLen = encodedIDLen + 1 + encodedSecret
)

// refreshToken is a parsed refresh token.
type refreshToken struct {
	ID     uuid.UUID
	Secret []byte
}

func (t refreshToken) String() string {
	return base64.RawURLEncoding.EncodeToString(t.ID[:]) + "." + base64.RawURLEncoding.EncodeToString(t.Secret)
}

// parseRefreshToken parses "<id>.<secret>". It accepts nothing else: no
// padding, no other alphabet, no extra dots.
func parseRefreshToken(s string) (refreshToken, bool) {
	if len(s) != refreshTokenLen || s[encodedIDLen] != '.' {
		return refreshToken{}, false
	}
	idPart, secretPart, _ := strings.Cut(s, ".")
	enc := base64.RawURLEncoding.Strict()
	idBytes, err := enc.DecodeString(idPart)
	if err != nil || len(idBytes) != 16 {
		return refreshToken{}, false
	}
	secret, err := enc.DecodeString(secretPart)
	if err != nil || len(secret) != secretLen {
		return refreshToken{}, false
	}
	var t refreshToken
	copy(t.ID[:], idBytes)
	t.Secret = secret
	return t, true
}

func hashSecret(secret []byte) []byte {
	sum := sha256.Sum256(secret)
	return sum[:]
}

func secretMatches(secret, hash []byte) bool {
	return subtle.ConstantTimeCompare(hashSecret(secret), hash) == 1
}

func newRefreshToken() (refreshToken, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return refreshToken{}, fmt.Errorf("refresh token id: %w", err)
	}
	secret := make([]byte, secretLen)
	if _, err := rand.Read(secret); err != nil {
		return refreshToken{}, fmt.Errorf("refresh token secret: %w", err)
	}
	return refreshToken{ID: id, Secret: secret}, nil
}

// childSecret derives the secret of parent's child. A retry of the parent
// within the grace window re-derives the same child without any raw token
// being stored, and only a holder of the parent's secret can do so; the
// server key keeps a thief of an old parent from computing children offline.
func childSecret(key []byte, parent refreshToken, childID uuid.UUID) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("authd refresh child v1\x00"))
	m.Write(parent.ID[:])
	m.Write(childID[:])
	m.Write(parent.Secret)
	return m.Sum(nil)
}

// serverKeyName names the refresh derivation key in server_keys.
const serverKeyName = "refresh_child_v1"

// LoadServerKey returns the refresh derivation key shared by every instance
// on the database, creating it on first use.
func LoadServerKey(ctx context.Context, db *gorm.DB) ([]byte, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	return models.EnsureServerKey(ctx, db, serverKeyName, secret, time.Now().UTC())
}
