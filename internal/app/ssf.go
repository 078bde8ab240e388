package app

import (
	"context"

	"github.com/authd/authd/services"
)

// openSSF builds the Shared Signals transmitter when AUTHD_SSF_ISSUER is
// set: its signing key (shared by every instance through the database)
// and its enqueuer, which writes the SETs of each event in the event's
// transaction.
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
	}, key, nil, clock)
	events.Enqueue(a.ssf.Enqueue)
	return nil
}

// SSF returns the Shared Signals transmitter (nil when off).
func (a *App) SSF() *services.SSF { return a.ssf }
