package services

import (
	"context"
	"log/slog"

	"github.com/google/uuid"

	"github.com/authd/authd/metrics"
	"github.com/authd/authd/models"
)

// CountEvent is an Events observer that counts events, revocations by
// reason and reuse detections. Observers run when the event is written,
// before its transaction commits; a commit that then fails (a 503, rare) is
// counted nonetheless.
func CountEvent(ev *models.SecurityEvent) {
	metrics.SecurityEvents.WithLabelValues(ev.Type, ev.Reason).Inc()
	if ev.Type != models.EventSessionRevoked {
		return
	}
	metrics.Revocations.WithLabelValues(ev.Reason).Inc()
	if ev.Reason == models.ReasonReuseDetected {
		metrics.ReuseDetections.Inc()
	}
}

// LogEvent returns an Events observer that writes one log line per
// security event: its type, reason, ids, the client's network prefix and
// user agent. Never details, tokens, passwords or full addresses: the event
// carries none of them, and the log handler escapes every string (a user
// agent cannot break the line).
func LogEvent(log *slog.Logger) func(*models.SecurityEvent) {
	return func(ev *models.SecurityEvent) {
		attrs := []slog.Attr{
			slog.String("event_id", ev.ID.String()),
			slog.String("type", ev.Type),
		}
		if ev.Reason != "" {
			attrs = append(attrs, slog.String("reason", ev.Reason))
		}
		addID := func(key string, id *uuid.UUID) {
			if id != nil {
				attrs = append(attrs, slog.String(key, id.String()))
			}
		}
		addID("user_id", ev.UserID)
		addID("session_id", ev.SessionID)
		addID("actor_user_id", ev.ActorUserID)
		attrs = append(attrs, slog.String("ip_prefix", ev.IPPrefix), slog.String("user_agent", ev.UserAgent))
		log.LogAttrs(context.Background(), slog.LevelInfo, "security event", attrs...)
	}
}

// countLogin counts a password check by result.
func countLogin(err error) {
	metrics.Logins.WithLabelValues(loginResult(err)).Inc()
}

func loginResult(err error) string {
	switch ErrorCode(err) {
	case "":
		return "succeeded"
	case CodeInvalidCredentials:
		return "failed"
	case CodeOverloaded:
		return "overloaded"
	case CodeRateLimited:
		return "rate_limited"
	default:
		return "error"
	}
}

// countRefresh counts a refresh by outcome.
func countRefresh(kind DecisionKind, err error) {
	metrics.Refreshes.WithLabelValues(refreshResult(kind, err)).Inc()
}

func refreshResult(kind DecisionKind, err error) string {
	switch ErrorCode(err) {
	case "":
		if kind == Retry {
			return "retried"
		}
		return "rotated"
	case CodeInvalidToken:
		return "invalid"
	case CodeTokenExpired:
		return "expired"
	case CodeRefreshTokenReused:
		return "reused"
	case CodeSessionRevoked:
		return "revoked"
	case CodeInvalidDPoPProof, CodeUseDPoPNonce:
		return "proof_failed"
	default:
		return "error"
	}
}
