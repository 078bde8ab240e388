package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// LockAdmins returns the ids of every admin, locking their rows until tx
// ends (PostgreSQL; SQLite has a single writer already). Two transactions
// that each demote an admin thus serialize: the second sees the first's
// demotion (PostgreSQL re-checks role = 'admin' on a row it waited for), so
// together they can never leave no admin.
func LockAdmins(ctx context.Context, tx *gorm.DB) ([]uuid.UUID, error) {
	q := "SELECT id FROM users WHERE role = ? ORDER BY id"
	if tx.Dialector.Name() == "postgres" {
		q += " FOR UPDATE"
	}
	// Rows, not Scan: GORM cannot scan a single column into a uuid.UUID.
	rows, err := tx.WithContext(ctx).Raw(q, RoleAdmin).Rows()
	if err != nil {
		return nil, fmt.Errorf("lock admins: %w", translate(err))
	}
	defer rows.Close()
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("lock admins: %w", translate(err))
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock admins: %w", translate(err))
	}
	return ids, nil
}

// SetUserRole stores the user's new role and when it changed. Returns
// ErrNotFound for an unknown user.
func SetUserRole(ctx context.Context, tx *gorm.DB, id uuid.UUID, role string, now time.Time) error {
	res := tx.WithContext(ctx).Model(&User{}).Where("id = ?", id).
		Updates(map[string]any{"role": role, "role_changed_at": now, "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("set role: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// RoleSince is a role a user was given at or after some time.
type RoleSince struct {
	Role      string
	ChangedAt time.Time
}

// RolesChangedSince returns the users whose role changed at or after t,
// with their role now: the seed of the in-memory role overrides.
func RolesChangedSince(ctx context.Context, tx *gorm.DB, t time.Time) (map[uuid.UUID]RoleSince, error) {
	rows, err := tx.WithContext(ctx).Raw("SELECT id, role, role_changed_at FROM users WHERE role_changed_at >= ?", t).Rows()
	if err != nil {
		return nil, fmt.Errorf("changed roles: %w", translate(err))
	}
	defer rows.Close()
	out := make(map[uuid.UUID]RoleSince)
	for rows.Next() {
		var (
			id uuid.UUID
			r  RoleSince
		)
		if err := rows.Scan(&id, &r.Role, &r.ChangedAt); err != nil {
			return nil, fmt.Errorf("changed roles: %w", translate(err))
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changed roles: %w", translate(err))
	}
	return out, nil
}

// SessionAccess is what an access token's session and user say now.
type SessionAccess struct {
	RevokedAt *time.Time
	Role      string
}

// FindSessionAccess returns the revocation of a session and its user's
// role in one query (the revocation set's check while its feed is down), or
// ErrNotFound.
func FindSessionAccess(ctx context.Context, tx *gorm.DB, sessionID uuid.UUID) (*SessionAccess, error) {
	var a SessionAccess
	res := tx.WithContext(ctx).Raw(`SELECT s.revoked_at, u.role FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = ?`, sessionID).Scan(&a)
	if res.Error != nil {
		return nil, fmt.Errorf("session access: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	return &a, nil
}
