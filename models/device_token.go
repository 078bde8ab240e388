package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// DeviceToken is a known device of a user (OWASP "device cookies"): it
// gives the logins that present it a failure budget of their own. It never
// signs anyone in by itself.
type DeviceToken struct {
	ID         uuid.UUID `gorm:"type:uuid;primaryKey"`
	UserID     uuid.UUID `gorm:"type:uuid"`
	SecretHash []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// CreateDeviceToken inserts dt.
func CreateDeviceToken(ctx context.Context, tx *gorm.DB, dt *DeviceToken) error {
	return create(ctx, tx, "device token", dt)
}

// FindDeviceTokenOfEmail returns the device token id if it belongs to the
// account with that (normalized) email and has not expired at now, or
// ErrNotFound. A token of another account is not found: it is useless there.
func FindDeviceTokenOfEmail(ctx context.Context, tx *gorm.DB, id uuid.UUID, email string, now time.Time) (*DeviceToken, error) {
	var dt DeviceToken
	err := tx.WithContext(ctx).Table("device_tokens").
		Select("device_tokens.*").
		Joins("JOIN users ON users.id = device_tokens.user_id").
		Where("device_tokens.id = ? AND users.email = ? AND device_tokens.expires_at > ?", id, email, now).
		Take(&dt).Error
	if err != nil {
		return nil, translate(err)
	}
	return &dt, nil
}

// DeleteDeviceToken deletes one device token of the user (none is fine).
func DeleteDeviceToken(ctx context.Context, tx *gorm.DB, id, userID uuid.UUID) error {
	if err := tx.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&DeviceToken{}).Error; err != nil {
		return fmt.Errorf("delete device token: %w", translate(err))
	}
	return nil
}

// DeleteUserDeviceTokens deletes every device token of the user and returns
// how many there were.
func DeleteUserDeviceTokens(ctx context.Context, tx *gorm.DB, userID uuid.UUID) (int64, error) {
	res := tx.WithContext(ctx).Where("user_id = ?", userID).Delete(&DeviceToken{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete device tokens of %s: %w", userID, translate(res.Error))
	}
	return res.RowsAffected, nil
}

// DeleteExpiredDeviceTokens deletes up to limit device tokens that expired
// before t and returns how many it deleted.
func DeleteExpiredDeviceTokens(ctx context.Context, tx *gorm.DB, t time.Time, limit int) (int64, error) {
	res := tx.WithContext(ctx).Exec(`DELETE FROM device_tokens WHERE id IN
		(SELECT id FROM device_tokens WHERE expires_at < ? LIMIT ?)`, t, limit)
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired device tokens: %w", translate(res.Error))
	}
	return res.RowsAffected, nil
}
