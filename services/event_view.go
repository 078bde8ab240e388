package services

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/models"
)

// EventView is the contract's `event` (docs/API.md): a security event as
// GET /v1/admin/security-events lists it and as a webhook body carries it
// in data. It is the one JSON shape of an event, so the admin API and the
// webhooks cannot drift apart.
type EventView struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Reason      string          `json:"reason"`
	UserID      *string         `json:"user_id"`
	SessionID   *string         `json:"session_id"`
	ActorUserID *string         `json:"actor_user_id"`
	IPPrefix    string          `json:"ip_prefix"`
	UserAgent   string          `json:"user_agent"`
	CreatedAt   string          `json:"created_at"`
	Details     json.RawMessage `json:"details"`
}

// NewEventView returns the view of e. Its time keeps the sub-second part
// (events of one second must stay in order for the reader), and details
// that are not valid JSON are shown as {}.
func NewEventView(e *models.SecurityEvent) EventView {
	details := json.RawMessage(e.Details)
	if !json.Valid(details) {
		details = json.RawMessage("{}")
	}
	return EventView{
		ID: e.ID.String(), Type: e.Type, Reason: e.Reason, UserID: optionalID(e.UserID),
		SessionID: optionalID(e.SessionID), ActorUserID: optionalID(e.ActorUserID), IPPrefix: e.IPPrefix,
		UserAgent: e.UserAgent, CreatedAt: EventTime(e.CreatedAt), Details: details,
	}
}

// EventTime formats an event's time: UTC, RFC 3339 with the sub-second part.
func EventTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func optionalID(id *uuid.UUID) *string {
	if id == nil {
		return nil
	}
	s := id.String()
	return &s
}
