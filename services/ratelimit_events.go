package services

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// RateLimited describes a client that ran out of a rate-limit budget.
type RateLimited struct {
	// Limit names the budget: login_ip, login_account, login_device,
	// reauth_session, refresh_ip, register_ip.
	Limit string
	// Endpoint is the route that was refused (login, reauthenticate, ...).
	Endpoint string
	// Rate is the rate that was spent, in ulule/limiter format ("5-M").
	Rate string
	// Email is the normalized email of a per-account limit. It is used to
	// find the account and never stored.
	Email string
	// EmailHash is a keyed hash of Email, stored in place of an email that
	// belongs to no account.
	EmailHash string
	// Key, when set, names the limited subject in the event (e.g.
	// "session:<id>", "device:<hash>") in place of an address or email.
	Key string
	// UserID is the account of a per-session or per-device limit.
	UserID *uuid.UUID
	// SessionID is the session of a per-session limit.
	SessionID *uuid.UUID
	Meta      Meta
}

// RateLimitEvents records rate_limited security events. The rate limiter
// calls it at most once per key and window, so an attack cannot flood the
// security log (RL-06).
type RateLimitEvents struct {
	db     *gorm.DB
	events *Events
}

// NewRateLimitEvents returns a RateLimitEvents.
func NewRateLimitEvents(db *gorm.DB, events *Events) *RateLimitEvents {
	return &RateLimitEvents{db: db, events: events}
}

// RecordRateLimited appends a rate_limited event. Its details name the
// limited key without the raw email or full address: the address prefix for
// per-address limits; the user id for an account, or the email's keyed hash
// when no account has that email; the given Key for a session or device.
func (r *RateLimitEvents) RecordRateLimited(ctx context.Context, l RateLimited) error {
	ev := &models.SecurityEvent{Type: models.EventRateLimited, Reason: l.Limit,
		IPPrefix: l.Meta.IPPrefix, UserAgent: l.Meta.UserAgent}
	key := "ip:" + l.Meta.IPPrefix
	switch {
	case l.Key != "":
		key, ev.UserID, ev.SessionID = l.Key, l.UserID, l.SessionID
	case l.Email != "" || l.EmailHash != "":
		key = "email:" + l.EmailHash
		if l.Email != "" {
			u, err := models.FindUserByEmail(ctx, r.db, l.Email)
			switch {
			case err == nil:
				ev.UserID = &u.ID
				key = "user:" + u.ID.String()
			case !errors.Is(err, models.ErrNotFound):
				return fmt.Errorf("rate_limited event: find user: %w", err)
			}
		}
	}
	ev.Details = jsonObject("limit", l.Limit, "endpoint", l.Endpoint, "rate", l.Rate, "key", key)
	return r.events.Record(ctx, r.db, ev)
}
