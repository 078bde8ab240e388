package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// User is an account.
type User struct {
	ID           uuid.UUID `gorm:"type:uuid;primaryKey"`
	Email        string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// CreateUser inserts u. Returns ErrDuplicate when the email is taken.
func CreateUser(ctx context.Context, tx *gorm.DB, u *User) error {
	return create(ctx, tx, "user", u)
}

// FindUserByEmail returns the user with the normalized email, or ErrNotFound.
func FindUserByEmail(ctx context.Context, tx *gorm.DB, email string) (*User, error) {
	return take[User](ctx, tx, "email = ?", email)
}

// FindUserByID returns the user, or ErrNotFound.
func FindUserByID(ctx context.Context, tx *gorm.DB, id uuid.UUID) (*User, error) {
	return take[User](ctx, tx, "id = ?", id)
}

// UpdatePasswordHash stores a new hash for the user.
func UpdatePasswordHash(ctx context.Context, tx *gorm.DB, id uuid.UUID, hash string, now time.Time) error {
	res := tx.WithContext(ctx).Model(&User{}).Where("id = ?", id).
		Updates(map[string]any{"password_hash": hash, "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("update password: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// ListUsers returns up to limit users ordered by email, after the email
// cursor, optionally filtered by an email substring.
func ListUsers(ctx context.Context, tx *gorm.DB, emailContains, after string, limit int) ([]User, error) {
	q := tx.WithContext(ctx).Order("email").Limit(limit)
	if emailContains != "" {
		// ESCAPE is explicit: SQLite has no default escape character.
		q = q.Where(`email LIKE ? ESCAPE '\'`, "%"+escapeLike(emailContains)+"%")
	}
	if after != "" {
		q = q.Where("email > ?", after)
	}
	return find[User](q, "list users")
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}
