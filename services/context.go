package services

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Principal is the verified identity behind an access token.
type Principal struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	Role      string
	ClientID  string
	Fresh     bool
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// JKT is the thumbprint of the key a DPoP-bound token is bound to
	// (cnf.jkt), "" for a Bearer token.
	JKT string
}

// IsAdmin reports whether the principal has the admin role.
func (p Principal) IsAdmin() bool { return p.Role == "admin" }

type contextKey int

const principalKey contextKey = iota

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the principal carried by ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// Meta describes the client behind a request, as services record it.
type Meta struct {
	IPPrefix  string // the client address cut to its /24 or /48; never the full address
	UserAgent string // cleaned of control characters
}

// Clock returns the current time. Services take one so tests can step
// through grace windows and expiries.
type Clock func() time.Time

// SystemClock is the real clock, in UTC and at the database's microsecond
// precision so that values round-trip unchanged.
func SystemClock() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
