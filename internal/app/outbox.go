package app

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/authd/authd/internal/netguard"
	"github.com/authd/authd/internal/platform/outbox"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// openOutbox wires the outbox of security events (internal/platform/outbox): the
// webhook sink always, the new-device mail sink when AUTHD_SMTP_URL is set.
// Events recorded from now on queue their deliveries in their own
// transaction; the workers start at once and stop in Close.
//
// On PostgreSQL the outbox works on a small pool of its own (River's polls,
// the workers' reads and writes): deliveries never take a connection a
// request is waiting for, and a burst of them cannot starve refreshes.
// Enqueueing still happens on the request's own transaction.
func (a *App) openOutbox(ctx context.Context, events *services.Events, clock services.Clock) error {
	work := a.db
	if a.db.IsPostgres() {
		var err error
		work, err = models.Open(models.Options{
			// A delivery holds a connection only for its short reads and
			// writes, not during the HTTP call: four serve the workers.
			URL: asyncCommit(a.cfg.DatabaseURL), MaxOpenConns: outboxConns,
			StatementTimeout: a.cfg.DBTimeout, LockTimeout: a.cfg.DBLockTimeout, ApplicationName: "authd-outbox",
		})
		if err != nil {
			return err
		}
		a.closers = append(a.closers, func() { work.Close() })
	}
	ob, webhooks, push, err := newOutbox(ctx, a.cfg, a.db, work, events, clock, a.log)
	if err != nil {
		return err
	}
	a.webhooks = webhooks
	a.ssfPush = push
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

// asyncCommit returns the database URL with synchronous_commit=off (unless
// the operator set synchronous_commit there): the outbox's own pool only
// completes jobs and records delivery attempts, and a commit of those lost
// in a crash costs at most a repeated delivery with the same webhook-id
// (at-least-once, which receivers deduplicate) or a missing line in the
// delivery log. The enqueue, which must not be lost, commits on the
// request's pool (docs/DESIGN.md, "The outbox").
func asyncCommit(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn // models.Open reports it
	}
	q := u.Query()
	if q.Get("synchronous_commit") == "" {
		q.Set("synchronous_commit", "off")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// outboxConns bounds the outbox's own PostgreSQL pool.
const outboxConns = 4

// NewOutbox builds the outbox and the webhook service on db and makes
// events enqueue into it, without starting any worker (`authd webhook add`
// uses it so that its own event is pushed too). The outbox's own work runs
// on work (which may be db).
func NewOutbox(ctx context.Context, cfg Config, db, work *models.DB, events *services.Events, clock services.Clock, log *slog.Logger) (*outbox.Outbox, *services.Webhooks, error) {
	ob, webhooks, _, err := newOutbox(ctx, cfg, db, work, events, clock, log)
	return ob, webhooks, err
}

// newOutbox is NewOutbox that also returns the SSF push sink, the push
// queue of the Shared Signals transmitter (openSSF). Its worker is always
// registered: a push job queued before a restart without AUTHD_SSF_ISSUER
// is still worked (and cancelled if its stream is gone).
func newOutbox(ctx context.Context, cfg Config, db, work *models.DB, events *services.Events, clock services.Clock, log *slog.Logger) (*outbox.Outbox, *services.Webhooks, *outbox.SSFPush, error) {
	if clock == nil {
		clock = services.SystemClock
	}
	guard := netguard.Guard{AllowPrivate: cfg.WebhookAllowPrivate}
	push := outbox.NewSSFPush(work.DB, outbox.SSFPushOptions{
		Guard: guard, RetryBase: cfg.WebhookRetryBase, Timeout: cfg.webhookJobTimeout(),
	})
	sinks := []outbox.Sink{outbox.NewWebhooks(work.DB, outbox.WebhookOptions{
		Guard: guard, RetryBase: cfg.WebhookRetryBase, Timeout: cfg.webhookJobTimeout(), Events: events, Now: clock,
	}), push}
	if cfg.SMTPURL != "" {
		m, err := outbox.NewMail(work.DB, outbox.MailOptions{URL: cfg.SMTPURL, From: cfg.SMTPFrom,
			PublicURL: cfg.PublicURL, RetryBase: cfg.WebhookRetryBase, Timeout: cfg.OutboxRescueAfter / 2})
		if err != nil {
			return nil, nil, nil, err
		}
		sinks = append(sinks, m)
	}
	ob, err := outbox.New(ctx, work, outbox.Options{Workers: cfg.OutboxWorkers, RescueAfter: cfg.OutboxRescueAfter,
		Rate: cfg.OutboxRate, Log: log}, sinks...)
	if err != nil {
		return nil, nil, nil, err
	}
	push.Attach(ob)
	events.Enqueue(ob.Enqueue)
	webhooks := services.NewWebhooks(db.DB, services.WebhookConfig{
		Production: cfg.Env == "production", AllowPrivate: cfg.WebhookAllowPrivate, CheckHost: guard.CheckHost,
	}, events, clock)
	return ob, webhooks, push, nil
}
