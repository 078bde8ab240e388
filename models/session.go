package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Session is one signed-in device: one refresh-token family.
type Session struct {
	ID           uuid.UUID `gorm:"type:uuid;primaryKey"`
	UserID       uuid.UUID `gorm:"type:uuid"`
	ClientID     string
	DeviceName   string
	UserAgent    string
	Browser      string
	OS           string `gorm:"column:os"`
	DeviceType   string
	IPPrefix     string `gorm:"column:ip_prefix"`
	CreatedAt    time.Time
	LastUsedAt   time.Time
	ExpiresAt    time.Time
	RevokedAt    *time.Time
	RevokeReason *string
	// DPoPJKT is the thumbprint of the key the session is bound to (DPoP),
	// or "" for an unbound session.
	DPoPJKT string `gorm:"column:dpop_jkt"`
}

// Revocation reasons of the contract.
const (
	ReasonLogout          = "logout"
	ReasonUserRevoked     = "user_revoked"
	ReasonRevokedOthers   = "revoked_others"
	ReasonPasswordChanged = "password_changed"
	ReasonAdminRevoked    = "admin_revoked"
	ReasonSessionLimit    = "session_limit"
	ReasonReuseDetected   = "reuse_detected"
)

// sessionActiveAt selects the sessions active at its one argument: neither
// revoked nor past their absolute lifetime. It is the SQL form of
// services.SessionState.ActiveAt (expires_at > now is the negation of
// ExpiredAt's !now.Before(expires_at)).
const sessionActiveAt = "revoked_at IS NULL AND expires_at > ?"

// CreateSession inserts s.
func CreateSession(ctx context.Context, tx *gorm.DB, s *Session) error {
	return create(ctx, tx, "session", s)
}

// FindSessionByID returns the session, revoked or not, or ErrNotFound.
func FindSessionByID(ctx context.Context, tx *gorm.DB, id uuid.UUID) (*Session, error) {
	return take[Session](ctx, tx, "id = ?", id)
}

// FindUserSession returns the user's active session, or ErrNotFound when it
// does not exist, belongs to someone else or is revoked or expired.
func FindUserSession(ctx context.Context, tx *gorm.DB, userID, id uuid.UUID, now time.Time) (*Session, error) {
	var s Session
	err := tx.WithContext(ctx).
		Where("id = ? AND user_id = ? AND "+sessionActiveAt, id, userID, now).
		Take(&s).Error
	if err != nil {
		return nil, translate(err)
	}
	return &s, nil
}

// SessionState selects sessions by revocation state.
type SessionState string

// Session states for listings.
const (
	StateActive  SessionState = "active"
	StateRevoked SessionState = "revoked"
	StateAll     SessionState = "all"
)

// ListUserSessions returns the user's sessions in the given state, most
// recently used first. Active means not revoked and not past its absolute
// expiry.
func ListUserSessions(ctx context.Context, tx *gorm.DB, userID uuid.UUID, state SessionState, now time.Time) ([]Session, error) {
	q := tx.WithContext(ctx).Where("user_id = ?", userID)
	switch state {
	case StateActive:
		q = q.Where(sessionActiveAt, now)
	case StateRevoked:
		q = q.Where("revoked_at IS NOT NULL")
	}
	return find[Session](q.Order("last_used_at DESC, id DESC"), "list sessions")
}

// RenameSession sets the device name of the user's active session. Returns
// ErrNotFound for an unknown, foreign or revoked session.
func RenameSession(ctx context.Context, tx *gorm.DB, userID, id uuid.UUID, name string, now time.Time) error {
	res := tx.WithContext(ctx).Model(&Session{}).
		Where("id = ? AND user_id = ? AND "+sessionActiveAt, id, userID, now).
		Update("device_name", name)
	if res.Error != nil {
		return fmt.Errorf("rename session: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// RevokeSession marks the session and its live refresh token revoked and
// returns the session as revoked. The rotated tokens of the family are dead
// already (a replay of one is reuse by its rotated_at, and every refresh
// checks the session first), so a long-lived device's thousands of rotated
// tokens are not rewritten: revoking costs the same after a month of
// rotations as after one. It returns nil when the session was already
// revoked (or does not exist), so that exactly one caller records the
// revocation event.
func RevokeSession(ctx context.Context, tx *gorm.DB, id uuid.UUID, reason string, now time.Time) (*Session, error) {
	// The session row is updated first: refresh takes the same row lock
	// first, so a revocation and a rotation of one family serialize and can
	// never deadlock. RETURNING gives the row to the event without a read.
	var rows []Session
	res := tx.WithContext(ctx).Model(&rows).Clauses(clause.Returning{}).
		Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"revoked_at": now, "revoke_reason": reason})
	if res.Error != nil {
		return nil, fmt.Errorf("revoke session %s: %w", id, translate(res.Error))
	}
	if len(rows) == 0 {
		return nil, nil
	}
	err := tx.WithContext(ctx).Model(&RefreshToken{}).
		Where("session_id = ? AND rotated_at IS NULL AND revoked_at IS NULL", id).
		Update("revoked_at", now).Error
	if err != nil {
		return nil, fmt.Errorf("revoke refresh tokens of %s: %w", id, translate(err))
	}
	return &rows[0], nil
}

// ActiveSessionIDs returns the ids of the user's active sessions, least
// recently used first.
func ActiveSessionIDs(ctx context.Context, tx *gorm.DB, userID uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := tx.WithContext(ctx).Model(&Session{}).
		Where("user_id = ? AND "+sessionActiveAt, userID, now).
		Order("last_used_at ASC, id ASC").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("active sessions: %w", translate(err))
	}
	return ids, nil
}

// RevokedSince returns the ids of sessions revoked at or after t, with the
// time of revocation: the seed of the in-memory revocation set.
func RevokedSince(ctx context.Context, tx *gorm.DB, t time.Time) (map[uuid.UUID]time.Time, error) {
	var rows []struct {
		ID        uuid.UUID
		RevokedAt time.Time
	}
	err := tx.WithContext(ctx).Model(&Session{}).Select("id, revoked_at").
		Where("revoked_at >= ?", t).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("revoked sessions: %w", translate(err))
	}
	out := make(map[uuid.UUID]time.Time, len(rows))
	for _, r := range rows {
		out[r.ID] = r.RevokedAt
	}
	return out, nil
}

// LockUser takes a row lock on the user so that concurrent logins of
// one user serialize their session-limit check (PostgreSQL; SQLite has a
// single writer already).
func LockUser(ctx context.Context, tx *gorm.DB, userID uuid.UUID) error {
	if tx.Dialector.Name() != "postgres" {
		return nil
	}
	// Exec, not Scan: the lock is all that is wanted, and GORM cannot scan
	// a single column into a uuid.UUID (a [16]byte).
	err := tx.WithContext(ctx).Exec("SELECT id FROM users WHERE id = ? FOR UPDATE", userID).Error
	if err != nil {
		return fmt.Errorf("lock user: %w", translate(err))
	}
	return nil
}
