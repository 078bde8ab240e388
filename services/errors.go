package services

import (
	"errors"
	"fmt"

	"github.com/authd/authd/models"
)

// The stable error codes of the HTTP contract (docs/API.md). Clients
// branch on these values, so they never change once published.
const (
	CodeInvalidRequest     = "invalid_request"
	CodePayloadTooLarge    = "payload_too_large"
	CodeUnsupportedMedia   = "unsupported_media_type"
	CodeWeakPassword       = "weak_password"
	CodePasswordTooLong    = "password_too_long"
	CodeEmailTaken         = "email_taken"
	CodeSignupDisabled     = "signup_disabled"
	CodeRateLimited        = "rate_limited"
	CodeInvalidCredentials = "invalid_credentials"
	CodeOverloaded         = "overloaded"
	CodeInvalidToken       = "invalid_token"
	CodeTokenExpired       = "token_expired"
	CodeRefreshTokenReused = "refresh_token_reused"
	CodeSessionRevoked     = "session_revoked"
	CodeFreshTokenRequired = "fresh_token_required"
	CodeForbidden          = "forbidden"
	CodeLastAdmin          = "last_admin"
	CodeNotFound           = "not_found"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeUnavailable        = "unavailable"
	CodeInvalidDPoPProof   = "invalid_dpop_proof" // RFC 9449 §5 and §7.1
	CodeUseDPoPNonce       = "use_dpop_nonce"     // RFC 9449 §8 and §9
	CodeInternal           = "internal"
)

// Codes that only the OAuth endpoints answer, as RFC 6749 §5.2 errors.
const (
	CodeUnsupportedGrantType = "unsupported_grant_type"
	CodeInvalidScope         = "invalid_scope"
)

// Error is a failure the client may see. Code is the stable value from the
// contract; Detail is a human sentence that clients must not parse.
type Error struct {
	Code   string
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Code
	}
	return e.Code + ": " + e.Detail
}

// Errorf returns an *Error with the given code and a formatted detail.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the contract code of err, CodeUnavailable for transient
// database failures, and CodeInternal for anything else.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if IsTransient(err) {
		return CodeUnavailable
	}
	return CodeInternal
}

// ErrorDetail returns the client-facing detail of err, or "" when err is not
// an *Error (internal causes are never shown to clients).
func ErrorDetail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return ""
}

// IsTransient reports whether err is a passing database failure (down,
// restarting, timed out, lock not available) or a failed write of the
// security log: such errors become 503 unavailable with Retry-After, never
// 500.
func IsTransient(err error) bool {
	var inf *infraError
	return errors.As(err, &inf) || models.IsTransient(err)
}

// infraError marks a failure of the infrastructure under a service (the
// security log could not be written) that is not a driver error
// models.IsTransient knows. The change it belonged to rolled back, so the
// client may retry: 503, not 500. The cause is kept for the server log.
type infraError struct{ err error }

func (e *infraError) Error() string { return e.err.Error() }
func (e *infraError) Unwrap() error { return e.err }
