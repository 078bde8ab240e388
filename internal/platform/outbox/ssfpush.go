package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/netguard"
	"github.com/authd/authd/internal/platform/ssfpush"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// SSFPushArgs is the job of one SET for one Shared Signals push stream.
// The SET is signed when its event is recorded, so every attempt sends the
// same bytes and the receiver deduplicates by its jti.
type SSFPushArgs struct {
	StreamID uuid.UUID `json:"stream_id"`
	JTI      string    `json:"jti"`
	SET      string    `json:"set"`
}

// Kind names SSF push jobs.
func (SSFPushArgs) Kind() string { return "ssf_push" }

// SSFPushOptions configure the SSF push sink.
type SSFPushOptions struct {
	// Guard checks every address a push connects to, as for webhooks.
	Guard netguard.Guard
	// RetryBase is the first retry delay (default 5 s).
	RetryBase time.Duration
	// Timeout bounds one HTTP attempt (default 10 s); keep it under the
	// outbox's job timeout.
	Timeout time.Duration
}

// SSFPush is the sink of Shared Signals push streams (RFC 8935). Its jobs
// are queued by services.SSF through QueuePush, in the transaction of the
// event or stream change the SET tells of: Jobs adds none itself.
type SSFPush struct {
	db     *gorm.DB
	opts   SSFPushOptions
	sender *ssfpush.Sender
	ob     *Outbox
}

var _ services.PushQueue = (*SSFPush)(nil)

// NewSSFPush returns the SSF push sink.
func NewSSFPush(db *gorm.DB, opts SSFPushOptions) *SSFPush {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	dialer := opts.Guard.Dialer()
	dialer.Timeout = opts.Timeout
	return &SSFPush{db: db, opts: opts, sender: ssfpush.NewSender(dialer.DialContext, opts.Timeout)}
}

// Attach gives the sink the outbox it queues into (built with the sink).
func (p *SSFPush) Attach(ob *Outbox) { p.ob = ob }

// Register adds the SSF push worker.
func (p *SSFPush) Register(w *river.Workers) error {
	return river.AddWorkerSafely(w, &ssfPushWorker{retrying: retrying[SSFPushArgs]{base: p.opts.RetryBase}, p: p})
}

// Jobs adds nothing: services.SSF queues its SETs through QueuePush.
func (p *SSFPush) Jobs(context.Context, *gorm.DB, *models.SecurityEvent) ([]river.InsertManyParams, error) {
	return nil, nil
}

// QueuePush inserts one job per SET in tx.
func (p *SSFPush) QueuePush(ctx context.Context, tx *gorm.DB, sets []services.PushSET) error {
	if p.ob == nil {
		return errors.New("ssf push: no outbox attached")
	}
	params := make([]river.InsertManyParams, 0, len(sets))
	for _, s := range sets {
		params = append(params, river.InsertManyParams{Args: SSFPushArgs{StreamID: s.StreamID, JTI: s.JTI, SET: s.SET}})
	}
	return p.ob.InsertTx(ctx, tx, params)
}

type ssfPushWorker struct {
	retrying[SSFPushArgs]
	p *SSFPush
}

var errStreamGone = errors.New("ssf stream deleted, disabled or no longer push")

// pausedRecheck is how often a job of a paused stream looks again: three
// retry bases, 15 s by default.
func (p *SSFPush) pausedRecheck() time.Duration {
	if p.opts.RetryBase <= 0 {
		return 15 * time.Second
	}
	return 3 * p.opts.RetryBase
}

// Work sends the SET to the stream's current endpoint. A paused stream
// holds it (the job waits and looks again); a deleted or disabled stream,
// or one that now polls, drops it; a receiver's RFC 8935 rejection is
// final; any other failure is retried with backoff.
func (w *ssfPushWorker) Work(ctx context.Context, job *river.Job[SSFPushArgs]) error {
	st, err := models.FindSSFStreamByID(ctx, w.p.db, job.Args.StreamID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return river.JobCancel(errStreamGone)
	case err != nil:
		return err
	case st.DeliveryMethod != models.SSFDeliveryPush || st.Status == models.SSFStatusDisabled:
		return river.JobCancel(errStreamGone)
	case st.Status == models.SSFStatusPaused:
		return river.JobSnooze(w.p.pausedRecheck())
	}
	err = w.p.sender.Send(ctx, st.EndpointURL, st.AuthorizationHeader, job.Args.SET)
	if errors.Is(err, ssfpush.ErrRejected) {
		return river.JobCancel(err)
	}
	return err
}
