package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/authd/authd/internal/netguard"
	"github.com/authd/authd/internal/outbox"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// openOutbox wires the outbox of security events (internal/outbox): the
// webhook sink always, the new-device mail sink when AUTHD_SMTP_URL is set.
// Events recorded from now on queue their deliveries in their own
// transaction; the workers start at once and stop in Close.
func (a *App) openOutbox(ctx context.Context, events *services.Events, clock services.Clock) error {
	ob, webhooks, err := NewOutbox(ctx, a.cfg, a.db, events, clock, a.log)
	if err != nil {
		return err
	}
	a.webhooks = webhooks
	a.outbox = ob
	if err := ob.Start(context.Background()); err != nil {
		return err
	}
	a.closers = append(a.closers, func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ob.Stop(stopCtx); err != nil {
			a.log.Warn("outbox stop", "err", err)
		}
	})
	return nil
}

// NewOutbox builds the outbox and the webhook service on db and makes
// events enqueue into it, without starting any worker (`authd webhook add`
// uses it so that its own event is pushed too).
func NewOutbox(ctx context.Context, cfg Config, db *models.DB, events *services.Events, clock services.Clock, log *slog.Logger) (*outbox.Outbox, *services.Webhooks, error) {
	if clock == nil {
		clock = services.SystemClock
	}
	guard := netguard.Guard{AllowPrivate: cfg.WebhookAllowPrivate}
	sinks := []outbox.Sink{outbox.NewWebhooks(db.DB, outbox.WebhookOptions{
		Guard: guard, RetryBase: cfg.WebhookRetryBase, Timeout: cfg.webhookJobTimeout(), Events: events, Now: clock,
	})}
	if cfg.SMTPURL != "" {
		m, err := outbox.NewMail(db.DB, outbox.MailOptions{URL: cfg.SMTPURL, From: cfg.SMTPFrom,
			PublicURL: cfg.PublicURL, RetryBase: cfg.WebhookRetryBase, Timeout: cfg.OutboxRescueAfter / 2})
		if err != nil {
			return nil, nil, err
		}
		sinks = append(sinks, m)
	}
	ob, err := outbox.New(ctx, db, outbox.Options{Workers: cfg.OutboxWorkers, RescueAfter: cfg.OutboxRescueAfter,
		Log: log}, sinks...)
	if err != nil {
		return nil, nil, err
	}
	events.Enqueue(ob.Enqueue)
	webhooks := services.NewWebhooks(db.DB, services.WebhookConfig{
		Production: cfg.Env == "production", AllowPrivate: cfg.WebhookAllowPrivate,
	}, events, clock)
	return ob, webhooks, nil
}
