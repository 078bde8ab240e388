package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// registerWebhooks adds the admin routes of webhook endpoints (API.md
// "Webhooks") to the admin group.
func registerWebhooks(admin *gin.RouterGroup, wh *services.Webhooks) {
	if wh == nil {
		return
	}
	admin.POST("/webhooks", createWebhook(wh))
	admin.GET("/webhooks", listWebhooks(wh))
	admin.GET("/webhooks/:id", getWebhook(wh))
	admin.DELETE("/webhooks/:id", deleteWebhook(wh))
	admin.POST("/webhooks/:id/rotate-secret", rotateWebhookSecret(wh))
	admin.GET("/webhooks/:id/deliveries", listWebhookDeliveries(wh))
}

// webhookResponse is the contract's `webhook`; the secret is never in it.
type webhookResponse struct {
	ID                      string   `json:"id"`
	URL                     string   `json:"url"`
	EventTypes              []string `json:"event_types"`
	Description             string   `json:"description"`
	Enabled                 bool     `json:"enabled"`
	DisabledAt              *string  `json:"disabled_at"`
	FailingSince            *string  `json:"failing_since"`
	PreviousSecretExpiresAt *string  `json:"previous_secret_expires_at"`
	CreatedAt               string   `json:"created_at"`
}

// webhookSecretResponse is a webhook with its new secret, shown once.
type webhookSecretResponse struct {
	webhookResponse
	Secret string `json:"secret"`
}

func timeOrNil(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

func toWebhookResponse(e *models.WebhookEndpoint, now time.Time) webhookResponse {
	r := webhookResponse{ID: e.ID.String(), URL: e.URL, EventTypes: e.Types(), Description: e.Description,
		Enabled: e.Enabled, DisabledAt: timeOrNil(e.DisabledAt), FailingSince: timeOrNil(e.FailingSince),
		CreatedAt: rfc3339(e.CreatedAt)}
	if e.PreviousSecret != "" && e.PreviousExpiresAt != nil && e.PreviousExpiresAt.After(now) {
		r.PreviousSecretExpiresAt = timeOrNil(e.PreviousExpiresAt)
	}
	return r
}

type createWebhookRequest struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
}

func (r createWebhookRequest) Valid() error {
	if strings.TrimSpace(r.URL) == "" {
		return invalid("Send url.")
	}
	if len(r.EventTypes) == 0 {
		return invalid("Send event_types: a list of event types, or [\"*\"] for every type.")
	}
	return nil
}

func createWebhook(wh *services.Webhooks) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[createWebhookRequest](c, false)
		if err != nil {
			return err
		}
		e, err := wh.Create(c.Request.Context(), principal(c), services.NewWebhook{
			URL: req.URL, EventTypes: req.EventTypes, Description: req.Description}, meta(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusCreated, webhookSecretResponse{toWebhookResponse(e, time.Now()), e.Secret})
		return nil
	})
}

func listWebhooks(wh *services.Webhooks) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		list, err := wh.List(c.Request.Context())
		if err != nil {
			return err
		}
		now := time.Now()
		c.JSON(http.StatusOK, gin.H{"webhooks": responses(list, func(e models.WebhookEndpoint) webhookResponse {
			return toWebhookResponse(&e, now)
		})})
		return nil
	})
}

func getWebhook(wh *services.Webhooks) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		e, err := wh.Get(c.Request.Context(), id)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, toWebhookResponse(e, time.Now()))
		return nil
	})
}

func deleteWebhook(wh *services.Webhooks) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		if err := wh.Delete(c.Request.Context(), principal(c), id, meta(c)); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

type rotateSecretRequest struct {
	OverlapSeconds *int `json:"overlap_seconds"`
}

func (r rotateSecretRequest) Valid() error {
	if r.OverlapSeconds != nil && (*r.OverlapSeconds < 1 || *r.OverlapSeconds > int(services.MaxRotationOverlap/time.Second)) {
		return invalid("overlap_seconds must be between 1 and %d.", int(services.MaxRotationOverlap/time.Second))
	}
	return nil
}

func rotateWebhookSecret(wh *services.Webhooks) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		req, err := decode[rotateSecretRequest](c, true)
		if err != nil {
			return err
		}
		var overlap time.Duration
		if req.OverlapSeconds != nil {
			overlap = time.Duration(*req.OverlapSeconds) * time.Second
		}
		e, err := wh.RotateSecret(c.Request.Context(), principal(c), id, overlap, meta(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, webhookSecretResponse{toWebhookResponse(e, time.Now()), e.Secret})
		return nil
	})
}

// webhookDeliveryResponse is the contract's `webhook_delivery`: one attempt.
type webhookDeliveryResponse struct {
	ID         string `json:"id"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	Attempt    int    `json:"attempt"`
	Status     string `json:"status"`
	HTTPStatus int    `json:"http_status"`
	Error      string `json:"error"`
	DurationMS int    `json:"duration_ms"`
	CreatedAt  string `json:"created_at"`
}

func toWebhookDeliveryResponse(d models.WebhookDelivery) webhookDeliveryResponse {
	return webhookDeliveryResponse{ID: d.ID.String(), EventID: d.EventID.String(), EventType: d.EventType,
		Attempt: d.Attempt, Status: d.Status, HTTPStatus: d.HTTPStatus, Error: d.Error,
		DurationMS: d.DurationMS, CreatedAt: rfc3339Nano(d.CreatedAt)}
}

func listWebhookDeliveries(wh *services.Webhooks) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		limit, err := limitQuery(c)
		if err != nil {
			return err
		}
		list, err := wh.Deliveries(c.Request.Context(), id, limit)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"deliveries": responses(list, toWebhookDeliveryResponse)})
		return nil
	})
}
