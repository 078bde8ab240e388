package services

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// DeviceTokens issues and checks device tokens (OWASP "device cookies"): a
// successful login gets one, and a later login of the same account that
// presents it is counted against that device's own failure budget instead of
// the account's, so an attacker spending the account's budget cannot keep
// the owner's known devices out. A device token is no credential: it never
// signs anyone in, and for any other account it is nothing.
//
// A token has the refresh token's form, "<id>.<secret>" with a 256-bit
// random secret, and only SHA-256 of the secret is stored.
type DeviceTokens struct {
	db  *gorm.DB
	ttl time.Duration
	now Clock
}

// NewDeviceTokens returns a DeviceTokens whose tokens last ttl.
func NewDeviceTokens(db *gorm.DB, ttl time.Duration, now Clock) *DeviceTokens {
	return &DeviceTokens{db: db, ttl: ttl, now: now}
}

// KnownDevice is a valid device token presented at a login.
type KnownDevice struct {
	ID     uuid.UUID
	UserID uuid.UUID
}

// IssuedDeviceToken is a new device token for the client.
type IssuedDeviceToken struct {
	Token     string
	ExpiresIn int // seconds
}

// Known returns the device token raw when it is a live token of the account
// with email, and false for anything else: malformed, unknown, expired,
// wrong secret, or another account's token. It does no bcrypt work, so a
// login can call it before its rate-limit check.
func (d *DeviceTokens) Known(ctx context.Context, raw, email string) (KnownDevice, bool, error) {
	tok, ok := parseRefreshToken(raw)
	if !ok {
		return KnownDevice{}, false, nil
	}
	normalized, err := NormalizeEmail(email)
	if err != nil {
		return KnownDevice{}, false, nil
	}
	dt, err := models.FindDeviceTokenOfEmail(ctx, d.db, tok.ID, normalized, d.now())
	if errors.Is(err, models.ErrNotFound) {
		return KnownDevice{}, false, nil
	}
	if err != nil {
		return KnownDevice{}, false, &infraError{err: fmt.Errorf("find device token: %w", err)}
	}
	if !secretMatches(tok.Secret, dt.SecretHash) {
		return KnownDevice{}, false, nil
	}
	return KnownDevice{ID: dt.ID, UserID: dt.UserID}, true, nil
}

// Issue gives the user a new device token. replaced, when not uuid.Nil, is
// the token the login presented; it is deleted in the same transaction, so
// that a device that signs in again holds one token, not a growing pile.
func (d *DeviceTokens) Issue(ctx context.Context, userID, replaced uuid.UUID) (IssuedDeviceToken, error) {
	tok, err := newRefreshToken()
	if err != nil {
		return IssuedDeviceToken{}, err
	}
	now := d.now()
	row := &models.DeviceToken{ID: tok.ID, UserID: userID, SecretHash: hashSecret(tok.Secret),
		CreatedAt: now, ExpiresAt: now.Add(d.ttl)}
	err = d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if replaced != uuid.Nil {
			if err := models.DeleteDeviceToken(ctx, tx, replaced, userID); err != nil {
				return err
			}
		}
		return models.CreateDeviceToken(ctx, tx, row)
	})
	if err != nil {
		return IssuedDeviceToken{}, &infraError{err: fmt.Errorf("issue device token: %w", err)}
	}
	return IssuedDeviceToken{Token: tok.String(), ExpiresIn: int(d.ttl / time.Second)}, nil
}
