package services

import (
	"crypto/subtle"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/models"
)

// The rotation rule (RFC 9700 §4.14.2) as one pure decision. Decide says
// what a presented refresh token means now; a RotationStore reads the state
// it decides on and applies the decision atomically.

// TokenState is what a refresh decision knows of a refresh token.
type TokenState struct {
	ID         uuid.UUID
	SessionID  uuid.UUID
	Generation int
	SecretHash []byte
	ExpiresAt  time.Time // idle expiry, capped at the session's absolute expiry
	RotatedAt  *time.Time
	RevokedAt  *time.Time
	// IPPrefix and UserAgent are those of the request that minted the token.
	IPPrefix  string
	UserAgent string
	// Child is the token's single child once it was rotated (nil before,
	// and when the child's row is gone).
	Child *TokenState
}

// SessionState is what a refresh decision knows of a session.
type SessionState struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	ExpiresAt time.Time // absolute lifetime, never extended
	RevokedAt *time.Time
	// JKT is the thumbprint of the DPoP key the session is bound to ("" for
	// none).
	JKT string
}

// SessionStateOf returns the decision state of s.
func SessionStateOf(s *models.Session) SessionState {
	return SessionState{ID: s.ID, UserID: s.UserID, ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt, JKT: s.DPoPJKT}
}

// expired is the one expiry rule of sessions and refresh tokens: a lifetime
// that ends at end is over at end itself. The SQL of the PostgreSQL fast
// path writes its negation, expires_at > now (models.RotateInOneStatement).
func expired(end, now time.Time) bool { return !now.Before(end) }

// ExpiredAt reports whether the session's absolute lifetime is over at now.
// A revoked session may or may not have expired: check RevokedAt too, or use
// ActiveAt.
func (s SessionState) ExpiredAt(now time.Time) bool { return expired(s.ExpiresAt, now) }

// ActiveAt reports whether the session is neither revoked nor past its
// absolute lifetime at now: whether anything may still be done with it.
func (s SessionState) ActiveAt(now time.Time) bool { return s.RevokedAt == nil && !s.ExpiredAt(now) }

// ExpiredAt reports whether the token's idle lifetime is over at now.
func (t TokenState) ExpiredAt(now time.Time) bool { return expired(t.ExpiresAt, now) }

// LiveAt reports whether the token may be rotated at now: never rotated,
// not revoked, not expired.
func (t TokenState) LiveAt(now time.Time) bool {
	return t.RotatedAt == nil && t.RevokedAt == nil && !t.ExpiredAt(now)
}

// retriableAt reports whether a rotated token is within its grace window at
// now with its child still unused, so that presenting it again is a retry
// (a lost response, two tabs) and not theft. Grace 0 means no grace at all:
// now may be earlier than rotated_at (this request read the clock before
// the winner did), and a negative age must not pass as "within grace".
// Once the child was used in turn, the parent is plain reuse (RT-05).
func (t TokenState) retriableAt(now time.Time, grace time.Duration) bool {
	return grace > 0 && t.RotatedAt != nil && t.RevokedAt == nil && now.Sub(*t.RotatedAt) < grace &&
		t.Child != nil && t.Child.LiveAt(now)
}

// DecisionKind is what a presented refresh token means.
type DecisionKind int

// The decisions of a refresh. Invalid is not Decide's: it is the answer
// for an unknown token or a wrong secret, checked before Decide is asked.
const (
	Invalid     DecisionKind = iota
	Rotate                   // mint the token's single child
	Retry                    // answer the child minted by the first use again
	Reuse                    // a rotated token replayed: revoke the family for good
	Expired                  // the token's or the session's lifetime is over
	Revoked                  // the session was revoked
	ProofFailed              // the DPoP proof is missing or not of the bound key: nothing happens
)

// String names the decision as the refresh metric's result does.
func (k DecisionKind) String() string {
	switch k {
	case Rotate:
		return "rotated"
	case Retry:
		return "retried"
	case Reuse:
		return "reused"
	case Expired:
		return "expired"
	case Revoked:
		return "revoked"
	case ProofFailed:
		return "proof_failed"
	default:
		return "invalid"
	}
}

// Decision is what a refresh does.
type Decision struct {
	Kind DecisionKind
	// Event, when set, is recorded in the transaction that applies the
	// decision (a grace retry from elsewhere: refresh_retry_mismatch).
	Event *models.SecurityEvent
}

// Decide says what presenting tok, of session ses, means at now with the
// reuse grace window grace. It does no I/O. Row by row:
//
//	session revoked, token rotated       Reuse (the family is dead already; a rotated token stays reuse)
//	session revoked                      Revoked
//	session past its absolute lifetime   Expired
//	token live                           Rotate
//	token rotated within grace, child    Retry
//	  unused
//	token rotated (or revoked)           Reuse
//	token past its idle lifetime         Expired
func Decide(tok TokenState, ses SessionState, now time.Time, grace time.Duration) Decision {
	switch {
	case ses.RevokedAt != nil && tok.RotatedAt != nil:
		return Decision{Kind: Reuse}
	case ses.RevokedAt != nil:
		return Decision{Kind: Revoked}
	case ses.ExpiredAt(now):
		return Decision{Kind: Expired}
	case tok.LiveAt(now):
		return Decision{Kind: Rotate}
	case tok.retriableAt(now, grace):
		return Decision{Kind: Retry}
	case tok.RotatedAt != nil || tok.RevokedAt != nil:
		return Decision{Kind: Reuse}
	default:
		return Decision{Kind: Expired}
	}
}

// ProofHolds says whether a refresh's proof b may use a session in state
// ses. It is checked before Decide, on every row of it: a bound session
// needs a valid proof of its key whatever the token means (a retry within
// grace and a replay of a rotated token included), and a proof sent with an
// unbound session must still be valid. It does no I/O.
func ProofHolds(ses SessionState, b Binding) bool {
	switch {
	case b.Present && b.Err != nil:
		return false
	case ses.JKT == "":
		return true
	default:
		return b.JKT != "" && subtle.ConstantTimeCompare([]byte(b.JKT), []byte(ses.JKT)) == 1
	}
}

// childExpiry is when a refresh token minted at now expires (a login's
// first one, or a rotation's child): after the idle lifetime, but never
// after its session's absolute lifetime.
func childExpiry(now time.Time, idle time.Duration, ses SessionState) time.Time {
	return minTime(now.Add(idle), ses.ExpiresAt)
}
