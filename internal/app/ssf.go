package app

import (
	"context"

	"github.com/authd/authd/internal/netguard"
	"github.com/authd/authd/services"
)

// openSSF builds the Shared Signals transmitter when AUTHD_SSF_ISSUER is
// set: its signing key (shared by every instance through the database)
// and its enqueuer, which writes the SETs of each event in the event's
// transaction (poll streams' in ssf_poll_sets, push streams' as ssf_push
// jobs of the outbox).
func (a *App) openSSF(ctx context.Context, events *services.Events, clock services.Clock) error {
	if a.cfg.SSFIssuer == "" {
		return nil
	}
	key, err := services.LoadSETKey(ctx, a.db.DB, a.cfg.SSFSigningAlg)
	if err != nil {
		return err
	}
	a.ssf = services.NewSSF(a.db.DB, services.SSFConfig{
		Issuer: a.cfg.SSFIssuer, SubjectIssuer: a.cfg.JWTIssuer, RequireHTTPS: a.cfg.Env == "production",
		PollWait: a.cfg.SSFPollWait,
		// The webhooks' SSRF guard checks a push endpoint when a stream is
		// configured, and again (its dialer) at every delivery.
		CheckEndpoint: netguard.Guard{AllowPrivate: a.cfg.WebhookAllowPrivate}.CheckHost,
	}, key, a.ssfPush, clock)
	events.Enqueue(a.ssf.Enqueue)
	return nil
}

// SSF returns the Shared Signals transmitter (nil when off).
func (a *App) SSF() *services.SSF { return a.ssf }
