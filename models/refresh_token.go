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
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RotatedAt  *time.Time
	ChildID    *uuid.UUID `gorm:"type:uuid"`
	RevokedAt  *time.Time
}

// CreateRefreshToken inserts rt. A second child of one parent is
// ErrDuplicate (the unique index on parent_id).
func CreateRefreshToken(ctx context.Context, tx *gorm.DB, rt *RefreshToken) error {
	if err := tx.WithContext(ctx).Create(rt).Error; err != nil {
		return fmt.Errorf("create refresh token: %w", translate(err))
	}
	return nil
}

// FindRefreshToken returns the token row, or ErrNotFound.
func FindRefreshToken(ctx context.Context, tx *gorm.DB, id uuid.UUID) (*RefreshToken, error) {
	var rt RefreshToken
	if err := tx.WithContext(ctx).Where("id = ?", id).Take(&rt).Error; err != nil {
		return nil, translate(err)
	}
	return &rt, nil
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

// TouchSessionOfToken is the first statement of a rotation: it marks the
// session of refresh token tokenID as used now, which also takes the
// session's row lock, so rotations and revocations of one family run one
// after the other. It returns ErrNotFound when the token is unknown or its
// session is revoked or past its absolute expiry.
func TouchSessionOfToken(ctx context.Context, tx *gorm.DB, tokenID uuid.UUID, ipPrefix string, now time.Time) (*SessionHead, error) {
	var heads []SessionHead
	err := tx.WithContext(ctx).Raw(`UPDATE sessions SET last_used_at = ?, ip_prefix = ?
		WHERE id = (SELECT session_id FROM refresh_tokens WHERE id = ?)
		  AND revoked_at IS NULL AND expires_at > ?
		RETURNING id, user_id, client_id, expires_at,
		  (SELECT email FROM users WHERE users.id = sessions.user_id) AS email,
		  (SELECT role FROM users WHERE users.id = sessions.user_id) AS role,
		  (SELECT created_at FROM users WHERE users.id = sessions.user_id) AS user_created_at`, now, ipPrefix, tokenID, now).Scan(&heads).Error
	if err != nil {
		return nil, fmt.Errorf("touch session: %w", translate(err))
	}
	if len(heads) == 0 {
		return nil, ErrNotFound
	}
	return &heads[0], nil
}

// Rotated is what RotateRefreshToken returns of the rotated row.
type Rotated struct {
	SessionID  uuid.UUID
	Generation int
	SecretHash []byte
}

// RotateRefreshToken marks token id rotated with childID as its child, but
// only while it is live (never rotated, not revoked, not expired). This one
// conditional UPDATE decides the single winner among concurrent refreshes.
// It returns ErrNotFound when the token is not live; the caller compares
// SecretHash and rolls back on a mismatch.
func RotateRefreshToken(ctx context.Context, tx *gorm.DB, id, childID uuid.UUID, now time.Time) (*Rotated, error) {
	var rows []Rotated
	err := tx.WithContext(ctx).Raw(`UPDATE refresh_tokens SET rotated_at = ?, child_id = ?
		WHERE id = ? AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?
		RETURNING session_id, generation, secret_hash`, now, childID, id, now).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("rotate refresh token %s: %w", id, translate(err))
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	return &rows[0], nil
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
