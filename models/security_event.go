package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// SecurityEvent is one append-only entry of the security log.
type SecurityEvent struct {
	ID          uuid.UUID `gorm:"type:uuid;primaryKey"`
	Type        string
	Reason      string
	UserID      *uuid.UUID `gorm:"type:uuid"`
	SessionID   *uuid.UUID `gorm:"type:uuid"`
	ActorUserID *uuid.UUID `gorm:"type:uuid"`
	IPPrefix    string     `gorm:"column:ip_prefix"`
	UserAgent   string
	CreatedAt   time.Time
	Details     string // a JSON object
}

// Event types of the contract.
const (
	EventUserRegistered  = "user_registered"
	EventLoginSucceeded  = "login_succeeded"
	EventLoginFailed     = "login_failed"
	EventSessionRevoked  = "session_revoked"
	EventPasswordChanged = "password_changed"
	EventRateLimited     = "rate_limited"
	EventReauthenticated = "reauthenticated"
	// EventRefreshRetryMismatch is a refresh within the reuse grace window
	// that got the same child again, from another address prefix or user
	// agent than the first use of the token.
	EventRefreshRetryMismatch = "refresh_retry_mismatch"
	// EventRoleChanged is a change of a user's role (details old_role and
	// new_role; the actor is the admin, none from the command line).
	EventRoleChanged = "role_changed"
	// EventDPoPProofFailed is a refresh of a key-bound session whose DPoP
	// proof was missing, invalid or of another key; reason says which.
	EventDPoPProofFailed = "dpop_proof_failed"
)

// InsertSecurityEvent appends e. Callers run it in the transaction of the
// change it records, so that both commit or neither does.
func InsertSecurityEvent(ctx context.Context, tx *gorm.DB, e *SecurityEvent) error {
	if e.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("event id: %w", err)
		}
		e.ID = id
	}
	if e.Details == "" {
		e.Details = "{}"
	}
	if err := tx.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("insert security event %s: %w", e.Type, translate(err))
	}
	return nil
}

// EventFilter selects security events. Zero fields do not filter.
type EventFilter struct {
	Type      string
	Reason    string
	UserID    *uuid.UUID
	SessionID *uuid.UUID
	Since     time.Time
	Until     time.Time
	// Cursor: return only events strictly older than (BeforeTime, BeforeID)
	// in (created_at, id) order.
	BeforeTime time.Time
	BeforeID   uuid.UUID
	Limit      int
}

// ListSecurityEvents returns events newest first, keyset-paginated on
// (created_at, id), so pages neither repeat nor skip rows while new events
// arrive.
func ListSecurityEvents(ctx context.Context, tx *gorm.DB, f EventFilter) ([]SecurityEvent, error) {
	return find[SecurityEvent](securityEventsQuery(ctx, tx, f), "list security events")
}

// EachSecurityEvent calls fn for every event ListSecurityEvents would
// return, one row at a time as the database sends them, so that an export
// never holds the whole result in memory. An error from fn stops the walk
// and is returned.
func EachSecurityEvent(ctx context.Context, tx *gorm.DB, f EventFilter, fn func(*SecurityEvent) error) error {
	q := securityEventsQuery(ctx, tx, f)
	rows, err := q.Rows()
	if err != nil {
		return fmt.Errorf("list security events: %w", translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var ev SecurityEvent
		if err := q.ScanRows(rows, &ev); err != nil {
			return fmt.Errorf("scan security event: %w", translate(err))
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list security events: %w", translate(err))
	}
	return nil
}

// SecurityEventsQuery returns the statement ListSecurityEvents runs (for
// EXPLAIN in tests).
func SecurityEventsQuery(ctx context.Context, tx *gorm.DB, f EventFilter) *gorm.DB {
	return securityEventsQuery(ctx, tx, f)
}

func securityEventsQuery(ctx context.Context, tx *gorm.DB, f EventFilter) *gorm.DB {
	q := tx.WithContext(ctx).Model(&SecurityEvent{})
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.Reason != "" {
		q = q.Where("reason = ?", f.Reason)
	}
	if f.UserID != nil {
		q = q.Where("user_id = ?", *f.UserID)
	}
	if f.SessionID != nil {
		q = q.Where("session_id = ?", *f.SessionID)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until)
	}
	if !f.BeforeTime.IsZero() {
		// A row-value comparison (PostgreSQL, SQLite 3.15+) rather than
		// "a < x OR (a = x AND b < y)": PostgreSQL uses it as an index
		// condition on the (…, created_at DESC, id DESC) indexes, so a deep
		// page costs the same as the first one.
		q = q.Where("(created_at, id) < (?, ?)", f.BeforeTime, f.BeforeID)
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	return q.Order("created_at DESC, id DESC")
}
