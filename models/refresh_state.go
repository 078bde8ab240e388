package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// RefreshRow is what a refresh decision reads in one statement: a refresh
// token, its child (the Child fields are nil when it has none), its session
// and the session's user.
type RefreshRow struct {
	ID         uuid.UUID
	SessionID  uuid.UUID
	Generation int
	SecretHash []byte
	ExpiresAt  time.Time
	RotatedAt  *time.Time
	RevokedAt  *time.Time

	ChildID         *uuid.UUID
	ChildSecretHash []byte
	ChildExpiresAt  *time.Time
	ChildRotatedAt  *time.Time
	ChildRevokedAt  *time.Time
	ChildIPPrefix   *string
	ChildUserAgent  *string

	SessionExpiresAt time.Time
	SessionRevokedAt *time.Time
	SessionDPoPJKT   string `gorm:"column:session_dpop_jkt"`
	UserID           uuid.UUID
	ClientID         string
	Email            string
	Role             string
	UserCreatedAt    time.Time
}

// Head returns what the answer of a refresh needs of the session.
func (r *RefreshRow) Head() SessionHead {
	return SessionHead{ID: r.SessionID, UserID: r.UserID, ClientID: r.ClientID, ExpiresAt: r.SessionExpiresAt,
		Email: r.Email, Role: r.Role, UserCreatedAt: r.UserCreatedAt}
}

// refreshRowSQL reads a RefreshRow. Every column is a plain column (no
// expression), so that SQLite keeps its declared type and the driver
// decodes the datetimes.
const refreshRowSQL = `SELECT t.id, t.session_id, t.generation, t.secret_hash, t.expires_at, t.rotated_at, t.revoked_at,
  c.id AS child_id, c.secret_hash AS child_secret_hash, c.expires_at AS child_expires_at,
  c.rotated_at AS child_rotated_at, c.revoked_at AS child_revoked_at,
  c.ip_prefix AS child_ip_prefix, c.user_agent AS child_user_agent,
  s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at, s.dpop_jkt AS session_dpop_jkt,
  s.user_id, s.client_id, u.email, u.role, u.created_at AS user_created_at
FROM refresh_tokens t
JOIN sessions s ON s.id = t.session_id
JOIN users u ON u.id = s.user_id
LEFT JOIN refresh_tokens c ON c.id = t.child_id
WHERE t.id = ?`

// ReadRefreshRow returns the state of refresh token id, or found false when
// there is no such token.
func ReadRefreshRow(ctx context.Context, tx *gorm.DB, id uuid.UUID) (_ *RefreshRow, found bool, err error) {
	var rows []RefreshRow
	if err := tx.WithContext(ctx).Raw(refreshRowSQL, id).Scan(&rows).Error; err != nil {
		return nil, false, fmt.Errorf("read refresh token %s: %w", id, translate(err))
	}
	if len(rows) == 0 {
		return nil, false, nil
	}
	return &rows[0], true, nil
}

// LockSessionOfToken takes the row lock of refresh token id's session
// (PostgreSQL), the lock every rotation and every revocation of the family
// takes first, so that they run one after the other. Statements after it
// see what the previous holder committed.
func LockSessionOfToken(ctx context.Context, tx *gorm.DB, id uuid.UUID) error {
	err := tx.WithContext(ctx).Exec(`SELECT id FROM sessions
		WHERE id = (SELECT session_id FROM refresh_tokens WHERE id = ?) FOR UPDATE`, id).Error
	if err != nil {
		return fmt.Errorf("lock session of refresh token %s: %w", id, translate(err))
	}
	return nil
}

// TouchSession marks the session as used now from the address prefix.
func TouchSession(ctx context.Context, tx *gorm.DB, id uuid.UUID, ipPrefix string, now time.Time) error {
	err := tx.WithContext(ctx).Exec(`UPDATE sessions SET last_used_at = ?, ip_prefix = ? WHERE id = ?`, now, ipPrefix, id).Error
	if err != nil {
		return fmt.Errorf("touch session %s: %w", id, translate(err))
	}
	return nil
}

// rotateSQL inserts the child and marks its parent rotated in one statement
// (SQLite's refresh has a budget of three statements besides BEGIN and
// COMMIT: the read, the session touch and this). The parent's own row is
// offered again after the child; its primary-key conflict turns that offer
// into the UPDATE of rotated_at and child_id. A parent that is gone offers
// nothing, so only the child is written and RotateRefreshToken fails. The
// unique index on parent_id refuses a second child of one parent.
const rotateSQL = `INSERT INTO refresh_tokens
  (id, session_id, parent_id, generation, secret_hash, ip_prefix, user_agent, created_at, expires_at)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
UNION ALL
SELECT id, session_id, parent_id, generation, secret_hash, ip_prefix, user_agent, created_at, expires_at
FROM refresh_tokens WHERE id = ?
ON CONFLICT (id) DO UPDATE SET rotated_at = ?, child_id = ?`

// RotateRefreshToken inserts child (its ParentID set) and marks the parent
// rotated at child.CreatedAt with child as its single child. The caller
// has decided that the parent is live, under its session's lock. A second
// child of one parent is ErrDuplicate.
func RotateRefreshToken(ctx context.Context, tx *gorm.DB, child *RefreshToken) error {
	if child.ParentID == nil {
		return fmt.Errorf("rotate refresh token: child %s has no parent", child.ID)
	}
	parent := *child.ParentID
	res := tx.WithContext(ctx).Exec(rotateSQL,
		child.ID, child.SessionID, parent, child.Generation, child.SecretHash, child.IPPrefix, child.UserAgent,
		child.CreatedAt, child.ExpiresAt,
		parent, child.CreatedAt, child.ID)
	if res.Error != nil {
		return fmt.Errorf("rotate refresh token %s: %w", parent, translate(res.Error))
	}
	if res.RowsAffected != 2 {
		return fmt.Errorf("rotate refresh token %s: the parent is gone (%d rows written)", parent, res.RowsAffected)
	}
	return nil
}
