package services

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// Event types of the webhooks themselves and of new-device sign-ins.
const (
	EventNewDeviceLogin       = "new_device_login"
	EventWebhookCreated       = "webhook_created"
	EventWebhookDeleted       = "webhook_deleted"
	EventWebhookSecretRotated = "webhook_secret_rotated"
	EventWebhookDisabled      = "webhook_disabled"
)

// WebhookConfig is the webhooks' slice of the configuration.
type WebhookConfig struct {
	// Production allows only https URLs.
	Production bool
	// AllowPrivate allows loopback, link-local and private destinations.
	AllowPrivate bool
	// CheckHost returns an error when host is, or resolves to, an address
	// webhooks must not reach (internal/netguard, wired in internal/app).
	// Without it every URL is refused unless AllowPrivate.
	CheckHost func(ctx context.Context, host string) error
}

// RotationOverlap is how long the previous secret keeps signing after a
// rotation unless the request says otherwise.
const RotationOverlap = 24 * time.Hour

// MaxRotationOverlap bounds the overlap of a rotation.
const MaxRotationOverlap = 7 * 24 * time.Hour

// Webhooks registers the endpoints that receive security events.
type Webhooks struct {
	db     *gorm.DB
	cfg    WebhookConfig
	events *Events
	now    Clock
}

// NewWebhooks returns a Webhooks.
func NewWebhooks(db *gorm.DB, cfg WebhookConfig, events *Events, now Clock) *Webhooks {
	return &Webhooks{db: db, cfg: cfg, events: events, now: now}
}

// NewWebhook is a registration request.
type NewWebhook struct {
	URL         string
	EventTypes  []string
	Description string
}

var (
	eventTypePattern  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	errWebhookMissing = &Error{Code: CodeNotFound, Detail: "No such webhook endpoint."}
)

// CheckURL returns CodeInvalidRequest unless raw is an absolute http(s)
// URL (https in production) whose host is not, and does not resolve to, a
// loopback, link-local, private or unspecified address (unless
// AUTHD_WEBHOOK_ALLOW_PRIVATE). Deliveries check the address again when
// they connect.
func (w *Webhooks) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2048 {
		return Errorf(CodeInvalidRequest, "url must be an absolute http(s) URL without credentials or fragment.")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && !w.cfg.Production:
	default:
		return Errorf(CodeInvalidRequest, "url must use https.")
	}
	if w.cfg.AllowPrivate {
		return nil
	}
	if w.cfg.CheckHost == nil || w.cfg.CheckHost(ctx, u.Hostname()) != nil {
		return Errorf(CodeInvalidRequest, "url must name a host that resolves, and not to a loopback, link-local, private or unspecified address.")
	}
	return nil
}

// checkTypes returns the cleaned list of event types.
func checkTypes(types []string) (string, error) {
	var out []string
	seen := map[string]bool{}
	for _, t := range types {
		t = strings.TrimSpace(t)
		if t != "*" && !eventTypePattern.MatchString(t) {
			return "", Errorf(CodeInvalidRequest, "event_types: %q is not an event type (or \"*\" for every type).", t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) == 0 || len(out) > 64 {
		return "", Errorf(CodeInvalidRequest, "event_types must list 1 to 64 event types (or \"*\").")
	}
	return strings.Join(out, ","), nil
}

// NewWebhookSecret returns a signing secret: "whsec_" and the base64 of 32
// random bytes (Standard Webhooks).
func NewWebhookSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

// Create registers an endpoint and returns it with its secret, which is
// shown only this once. It needs a fresh token. Records webhook_created.
func (w *Webhooks) Create(ctx context.Context, by Principal, req NewWebhook, meta Meta) (*models.WebhookEndpoint, error) {
	if !by.Fresh {
		return nil, errFreshRequired
	}
	if err := w.CheckURL(ctx, req.URL); err != nil {
		return nil, err
	}
	types, err := checkTypes(req.EventTypes)
	if err != nil {
		return nil, err
	}
	if len(req.Description) > 500 {
		return nil, Errorf(CodeInvalidRequest, "description must be at most 500 characters.")
	}
	secret, err := NewWebhookSecret()
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	e := &models.WebhookEndpoint{ID: id, URL: req.URL, EventTypes: types, Description: req.Description,
		Secret: secret, Enabled: true, CreatedBy: actor(by), CreatedAt: w.now()}
	err = w.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := models.CreateWebhookEndpoint(ctx, tx, e); err != nil {
			return err
		}
		return w.record(ctx, tx, EventWebhookCreated, by, meta, e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

func actor(by Principal) *uuid.UUID {
	if by.UserID == uuid.Nil {
		return nil // the command line
	}
	id := by.UserID
	return &id
}

func (w *Webhooks) record(ctx context.Context, tx *gorm.DB, typ string, by Principal, meta Meta, e *models.WebhookEndpoint) error {
	return w.events.Record(ctx, tx, &models.SecurityEvent{Type: typ, ActorUserID: actor(by),
		IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent,
		Details: jsonObject("endpoint_id", e.ID.String(), "url", e.URL)})
}

// List returns every endpoint (secrets included: callers must not show
// them).
func (w *Webhooks) List(ctx context.Context) ([]models.WebhookEndpoint, error) {
	return models.ListWebhookEndpoints(ctx, w.db)
}

// Get returns one endpoint, or CodeNotFound.
func (w *Webhooks) Get(ctx context.Context, id uuid.UUID) (*models.WebhookEndpoint, error) {
	e, err := models.FindWebhookEndpoint(ctx, w.db, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, errWebhookMissing
	}
	return e, err
}

// Delete removes an endpoint and its pending deliveries stop (their jobs
// find no endpoint and are cancelled). It needs a fresh token. Records
// webhook_deleted.
func (w *Webhooks) Delete(ctx context.Context, by Principal, id uuid.UUID, meta Meta) error {
	if !by.Fresh {
		return errFreshRequired
	}
	return w.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		e, err := models.FindWebhookEndpoint(ctx, tx, id)
		if errors.Is(err, models.ErrNotFound) {
			return errWebhookMissing
		} else if err != nil {
			return err
		}
		if err := models.DeleteWebhookEndpoint(ctx, tx, id); err != nil {
			return err
		}
		return w.record(ctx, tx, EventWebhookDeleted, by, meta, e)
	})
}

// RotateSecret gives the endpoint a new secret and returns it; the old one
// keeps signing (a second signature) for overlap (0: RotationOverlap). It
// needs a fresh token. Records webhook_secret_rotated.
func (w *Webhooks) RotateSecret(ctx context.Context, by Principal, id uuid.UUID, overlap time.Duration, meta Meta) (*models.WebhookEndpoint, error) {
	if !by.Fresh {
		return nil, errFreshRequired
	}
	if overlap == 0 {
		overlap = RotationOverlap
	}
	if overlap < 0 || overlap > MaxRotationOverlap {
		return nil, Errorf(CodeInvalidRequest, "overlap_seconds must be between 1 and %d.", int(MaxRotationOverlap/time.Second))
	}
	secret, err := NewWebhookSecret()
	if err != nil {
		return nil, err
	}
	var out *models.WebhookEndpoint
	err = w.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := models.RotateWebhookSecret(ctx, tx, id, secret, w.now().Add(overlap)); errors.Is(err, models.ErrNotFound) {
			return errWebhookMissing
		} else if err != nil {
			return err
		}
		e, err := models.FindWebhookEndpoint(ctx, tx, id)
		if err != nil {
			return err
		}
		out = e
		return w.record(ctx, tx, EventWebhookSecretRotated, by, meta, e)
	})
	return out, err
}

// Deliveries returns the latest delivery attempts to an endpoint, newest
// first, or CodeNotFound. limit 0 is DefaultPageSize.
func (w *Webhooks) Deliveries(ctx context.Context, id uuid.UUID, limit int) ([]models.WebhookDelivery, error) {
	n, err := pageSize(limit)
	if err != nil {
		return nil, err
	}
	if _, err := w.Get(ctx, id); err != nil {
		return nil, err
	}
	return models.ListWebhookDeliveries(ctx, w.db, id, n)
}
