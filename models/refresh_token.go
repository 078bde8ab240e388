package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// RefreshToken is one refresh token of a family. Rotated tokens are kept as
// history with a link to their single child.
type RefreshToken struct {
	ID         uuid.UUID  `gorm:"type:uuid;primaryKey"`
	SessionID  uuid.UUID  `gorm:"type:uuid"`
	ParentID   *uuid.UUID `gorm:"type:uuid"`
	Generation int
	SecretHash []byte
	IPPrefix   string `gorm:"column:ip_prefix"`
	// UserAgent is the user agent of the request that minted the token (the
	// first use of its parent), to tell a grace retry from elsewhere.
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
	RotatedAt *time.Time
	ChildID   *uuid.UUID `gorm:"type:uuid"`
	RevokedAt *time.Time
}

// CreateRefreshToken inserts rt. A second child of one parent is
// ErrDuplicate (the unique index on parent_id).
func CreateRefreshToken(ctx context.Context, tx *gorm.DB, rt *RefreshToken) error {
	return create(ctx, tx, "refresh token", rt)
}

// FindRefreshToken returns the token row, or ErrNotFound.
func FindRefreshToken(ctx context.Context, tx *gorm.DB, id uuid.UUID) (*RefreshToken, error) {
	return take[RefreshToken](ctx, tx, "id = ?", id)
}

// LatestRefreshToken returns the newest token of the session's family.
func LatestRefreshToken(ctx context.Context, tx *gorm.DB, sessionID uuid.UUID) (*RefreshToken, error) {
	var rt RefreshToken
	err := tx.WithContext(ctx).Where("session_id = ?", sessionID).Order("generation DESC").Take(&rt).Error
	if err != nil {
		return nil, translate(err)
	}
	return &rt, nil
}

// SessionHead is what a refresh needs of its session.
type SessionHead struct {
	ID            uuid.UUID
	UserID        uuid.UUID
	ClientID      string
	ExpiresAt     time.Time
	Email         string
	Role          string
	UserCreatedAt time.Time
}

// DeleteExpiredRefreshTokens deletes up to limit token rows that expired
// before t and returns how many it deleted.
func DeleteExpiredRefreshTokens(ctx context.Context, tx *gorm.DB, t time.Time, limit int) (int64, error) {
	res := tx.WithContext(ctx).Exec(`DELETE FROM refresh_tokens WHERE id IN
		(SELECT id FROM refresh_tokens WHERE expires_at < ? LIMIT ?)`, t, limit)
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired refresh tokens: %w", translate(res.Error))
	}
	return res.RowsAffected, nil
}
