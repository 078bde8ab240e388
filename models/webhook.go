package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// WebhookEndpoint is a receiver of security events (Standard Webhooks).
type WebhookEndpoint struct {
	ID          uuid.UUID `gorm:"type:uuid;primaryKey"`
	URL         string    `gorm:"column:url"`
	EventTypes  string    // comma-separated; "*" is every type
	Description string
	Secret      string // "whsec_" + base64 of the key
	// PreviousSecret also signs until PreviousExpiresAt (a rotation's
	// overlap window).
	PreviousSecret    string
	PreviousExpiresAt *time.Time
	Enabled           bool
	DisabledAt        *time.Time
	FailingSince      *time.Time
	CreatedBy         *uuid.UUID `gorm:"type:uuid"`
	CreatedAt         time.Time
}

// Types returns the endpoint's event types.
func (e *WebhookEndpoint) Types() []string {
	var out []string
	for _, t := range strings.Split(e.EventTypes, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// Subscribes reports whether the endpoint wants events of type t.
func (e *WebhookEndpoint) Subscribes(t string) bool {
	for _, s := range e.Types() {
		if s == "*" || s == t {
			return true
		}
	}
	return false
}

// WebhookDelivery is one delivery attempt of an event to an endpoint.
type WebhookDelivery struct {
	ID         uuid.UUID `gorm:"type:uuid;primaryKey"`
	EndpointID uuid.UUID `gorm:"type:uuid"`
	EventID    uuid.UUID `gorm:"type:uuid"`
	EventType  string
	Attempt    int
	Status     string // "succeeded" or "failed"
	HTTPStatus int    `gorm:"column:http_status"`
	Error      string
	DurationMS int `gorm:"column:duration_ms"`
	CreatedAt  time.Time
}

// Delivery statuses.
const (
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// CreateWebhookEndpoint inserts e.
func CreateWebhookEndpoint(ctx context.Context, tx *gorm.DB, e *WebhookEndpoint) error {
	return create(ctx, tx, "webhook endpoint", e)
}

// FindWebhookEndpoint returns the endpoint id, or ErrNotFound.
func FindWebhookEndpoint(ctx context.Context, tx *gorm.DB, id uuid.UUID) (*WebhookEndpoint, error) {
	return take[WebhookEndpoint](ctx, tx, "id = ?", id)
}

// ListWebhookEndpoints returns every endpoint, oldest first.
func ListWebhookEndpoints(ctx context.Context, tx *gorm.DB) ([]WebhookEndpoint, error) {
	return listOldest[WebhookEndpoint](ctx, tx, "webhook endpoints", "")
}

// EnabledWebhookEndpoints returns the endpoints that receive events.
func EnabledWebhookEndpoints(ctx context.Context, tx *gorm.DB) ([]WebhookEndpoint, error) {
	return listOldest[WebhookEndpoint](ctx, tx, "enabled webhook endpoints", "enabled = ?", true)
}

// DeleteWebhookEndpoint deletes the endpoint and its delivery log; it
// returns ErrNotFound when there was none.
func DeleteWebhookEndpoint(ctx context.Context, tx *gorm.DB, id uuid.UUID) error {
	if err := tx.WithContext(ctx).Where("endpoint_id = ?", id).Delete(&WebhookDelivery{}).Error; err != nil {
		return fmt.Errorf("delete webhook deliveries: %w", translate(err))
	}
	res := tx.WithContext(ctx).Where("id = ?", id).Delete(&WebhookEndpoint{})
	if res.Error != nil {
		return fmt.Errorf("delete webhook endpoint: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// RotateWebhookSecret makes secret the endpoint's signing secret; the old
// one keeps signing until overlapUntil. Returns ErrNotFound.
func RotateWebhookSecret(ctx context.Context, tx *gorm.DB, id uuid.UUID, secret string, overlapUntil time.Time) error {
	res := tx.WithContext(ctx).Model(&WebhookEndpoint{}).Where("id = ?", id).Updates(map[string]any{
		"previous_secret":     gorm.Expr("secret"),
		"previous_expires_at": overlapUntil,
		"secret":              secret,
	})
	if res.Error != nil {
		return fmt.Errorf("rotate webhook secret: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// MarkWebhookSucceeded clears the endpoint's failure streak.
func MarkWebhookSucceeded(ctx context.Context, tx *gorm.DB, id uuid.UUID) error {
	err := tx.WithContext(ctx).Model(&WebhookEndpoint{}).Where("id = ? AND failing_since IS NOT NULL", id).
		Update("failing_since", nil).Error
	if err != nil {
		return fmt.Errorf("mark webhook succeeded: %w", translate(err))
	}
	return nil
}

// MarkWebhookFailed starts the endpoint's failure streak at now unless one
// has started, and returns when it started.
func MarkWebhookFailed(ctx context.Context, tx *gorm.DB, id uuid.UUID, now time.Time) (time.Time, error) {
	err := tx.WithContext(ctx).Model(&WebhookEndpoint{}).Where("id = ? AND failing_since IS NULL", id).
		Update("failing_since", now).Error
	if err != nil {
		return time.Time{}, fmt.Errorf("mark webhook failed: %w", translate(err))
	}
	e, err := FindWebhookEndpoint(ctx, tx, id)
	if err != nil {
		return time.Time{}, err
	}
	if e.FailingSince == nil {
		return now, nil
	}
	return *e.FailingSince, nil
}

// DisableWebhookEndpoint turns the endpoint off; it reports false when it
// was off already.
func DisableWebhookEndpoint(ctx context.Context, tx *gorm.DB, id uuid.UUID, now time.Time) (bool, error) {
	res := tx.WithContext(ctx).Model(&WebhookEndpoint{}).Where("id = ? AND enabled = ?", id, true).
		Updates(map[string]any{"enabled": false, "disabled_at": now})
	if res.Error != nil {
		return false, fmt.Errorf("disable webhook endpoint: %w", translate(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// InsertWebhookDelivery records one attempt.
func InsertWebhookDelivery(ctx context.Context, tx *gorm.DB, d *WebhookDelivery) error {
	if d.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		d.ID = id
	}
	return create(ctx, tx, "webhook delivery", d)
}

// ListWebhookDeliveries returns the endpoint's latest attempts, newest
// first.
func ListWebhookDeliveries(ctx context.Context, tx *gorm.DB, endpoint uuid.UUID, limit int) ([]WebhookDelivery, error) {
	q := tx.WithContext(ctx).Where("endpoint_id = ?", endpoint).Order("created_at DESC, id DESC").Limit(limit)
	return find[WebhookDelivery](q, "list webhook deliveries")
}
