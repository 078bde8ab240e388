// Package outbox pushes security events out of authd: to webhook endpoints
// (Standard Webhooks), to Shared Signals push streams (RFC 8935) and, for
// new-device sign-ins, to the user by e-mail.
//
// It is a transactional outbox on riverqueue/river. services.Events calls
// Enqueue in the transaction that records an event, and River inserts the
// event's jobs in that same transaction (InsertManyTx on GORM's *sql.Tx):
// a rolled-back change sends nothing, and a committed one is delivered even
// if the process dies right after the commit. River's workers run in every
// instance; a job is locked by the one that works it, so in the normal case
// each delivery happens once, and a job whose worker died (kill -9) is
// rescued after RescueAfter and retried, which is why delivery is
// at-least-once with the event's id as the key for receivers to deduplicate.
//
// River was picked because it is a kept job queue with transactional
// enqueue on both of authd's databases: riverdatabasesql for PostgreSQL (on
// authd's own pgx database/sql pool, so GORM's transaction is River's) and
// riversqlite for SQLite. Its tables are migrated by goose migration 00008.
//
// # Adding a kind of receiver
//
// Every kind of receiver is a Sink: it registers its River worker and, for
// each recorded event, returns the jobs it wants inserted (none when nobody
// subscribes). The webhook sink returns one job per subscribed endpoint; the
// mail sink one per new_device_login. The Shared Signals push sink (SSFPush)
// returns none from Jobs: services.SSF signs each SET where it records the
// event and hands it to the sink's QueuePush in that same transaction, which
// inserts an ssf_push job through InsertTx; its worker POSTs the SET (RFC
// 8935).
package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/time/rate"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// Sink is one kind of receiver of security events.
type Sink interface {
	// Register adds the sink's workers.
	Register(w *river.Workers) error
	// Jobs returns the jobs to insert for ev, read in tx (the transaction
	// that records ev); none when nobody subscribes.
	Jobs(ctx context.Context, tx *gorm.DB, ev *models.SecurityEvent) ([]river.InsertManyParams, error)
}

// Options configure the outbox.
type Options struct {
	// Workers is how many jobs one instance works at once (default 20).
	Workers int
	// RescueAfter is how long a job may run before River considers its
	// worker dead and retries it elsewhere (default 1m). A job's own
	// timeout is half of it.
	RescueAfter time.Duration
	// PollInterval is how often an instance looks for new jobs (default
	// 250ms): authd's pools cannot LISTEN for River, so it polls.
	PollInterval time.Duration
	// Rate bounds the jobs one instance starts per second (0: no bound).
	// A job waits for its turn in the worker slot River gave it, before
	// its timeout starts; River fetches no more jobs than there are free
	// slots, so at most Workers jobs wait, each at most Workers/Rate.
	Rate float64
	// Log receives River's warnings and errors.
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 20
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// JobTimeout is the time one attempt of a job may take.
func (o Options) JobTimeout() time.Duration { return o.withDefaults().RescueAfter / 2 }

// MaxAttempts bounds the attempts of a job: with Backoff from a 5 s base,
// 40 attempts span about 31 hours, more than the 24 hours after which a
// failing webhook endpoint is disabled.
const MaxAttempts = 40

// Outbox queues and works the deliveries of security events.
type Outbox struct {
	client *river.Client[*sql.Tx]
	sinks  []Sink
	opts   Options
}

// New builds the outbox on db with the given sinks. It does not start
// working jobs (Start); Enqueue works at once.
func New(ctx context.Context, db *models.DB, opts Options, sinks ...Sink) (*Outbox, error) {
	opts = opts.withDefaults()
	workers := river.NewWorkers()
	for _, s := range sinks {
		if err := s.Register(workers); err != nil {
			return nil, err
		}
	}
	var driver riverdriver.Driver[*sql.Tx]
	schema := ""
	if db.IsPostgres() {
		driver = riverdatabasesql.New(db.SQL())
		// River qualifies its tables with the schema authd's own tables
		// are in (the search_path's first, e.g. a test's own schema).
		if err := db.WithContext(ctx).Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
			return nil, fmt.Errorf("outbox schema: %w", err)
		}
	} else {
		driver = riversqlite.New(db.SQL())
	}
	client, err := river.NewClient(driver, &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers:              workers,
		Schema:               schema,
		PollOnly:             true,
		FetchPollInterval:    opts.PollInterval,
		FetchCooldown:        min(opts.PollInterval, 20*time.Millisecond),
		JobTimeout:           opts.JobTimeout(),
		RescueStuckJobsAfter: opts.RescueAfter,
		MaxAttempts:          MaxAttempts,
		Logger:               slog.New(warnOnly{opts.Log.Handler()}),
		Middleware:           middleware(opts),
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &Outbox{client: client, sinks: sinks, opts: opts}, nil
}

// Enqueue inserts ev's jobs of every sink in tx. It is a services.Enqueuer.
func (o *Outbox) Enqueue(ctx context.Context, tx *gorm.DB, ev *models.SecurityEvent) error {
	var params []river.InsertManyParams
	for _, s := range o.sinks {
		p, err := s.Jobs(ctx, tx, ev)
		if err != nil {
			return fmt.Errorf("outbox %s: %w", ev.Type, err)
		}
		params = append(params, p...)
	}
	if err := o.InsertTx(ctx, tx, params); err != nil {
		return fmt.Errorf("outbox %s: %w", ev.Type, err)
	}
	return nil
}

// InsertTx inserts jobs in tx, the transaction of the change they deliver
// (a sink that is handed its jobs by a service rather than by Enqueue, as
// the SSF push sink is, inserts through it).
func (o *Outbox) InsertTx(ctx context.Context, tx *gorm.DB, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	if sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx); ok {
		_, err := o.client.InsertManyTx(ctx, sqlTx, params)
		return err
	}
	// Not in a transaction: the change is committed already, so its jobs
	// follow at once.
	_, err := o.client.InsertMany(ctx, params)
	return err
}

// Start works jobs until Stop.
func (o *Outbox) Start(ctx context.Context) error { return o.client.Start(ctx) }

// Stop waits for the running jobs (up to ctx) and stops.
func (o *Outbox) Stop(ctx context.Context) error {
	err := o.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil // their jobs are rescued and retried
	}
	return err
}

// Client returns the River client (for tests and metrics).
func (o *Outbox) Client() *river.Client[*sql.Tx] { return o.client }

// Backoff is the retry schedule of every job: base·2^(n-1) after the n-th
// failure, at most an hour, with ±10 % jitter so that retries of a burst
// spread out.
func Backoff(base time.Duration, job *rivertype.JobRow) time.Time {
	if base <= 0 {
		base = 5 * time.Second
	}
	n := len(job.Errors) // failures so far, this one included
	if n < 1 {
		n = 1
	}
	d := time.Hour
	if n < 20 {
		d = min(base<<(n-1), time.Hour)
	}
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return time.Now().Add(d + jitter)
}

// retrying is embedded by every worker: River's defaults, but retries on
// the Backoff schedule from base.
type retrying[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	base time.Duration
}

func (r retrying[T]) NextRetry(job *river.Job[T]) time.Time { return Backoff(r.base, job.JobRow) }

// middleware returns the rate bound of opts, if any, as River middleware:
// every kind of job takes a token (golang.org/x/time/rate, burst 1, so the
// deliveries of a backlog are spread evenly over each second).
func middleware(opts Options) []rivertype.Middleware {
	if opts.Rate <= 0 {
		return nil
	}
	lim := rate.NewLimiter(rate.Limit(opts.Rate), 1)
	return []rivertype.Middleware{river.WorkerMiddlewareFunc(
		func(ctx context.Context, _ *rivertype.JobRow, doInner func(context.Context) error) error {
			if err := lim.Wait(ctx); err != nil {
				return err // stopping: the job is retried
			}
			return doInner(ctx)
		})}
}

// warnOnly passes River's warnings and errors to authd's log, not its
// per-job info lines.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

func (w warnOnly) WithAttrs(a []slog.Attr) slog.Handler { return warnOnly{w.Handler.WithAttrs(a)} }
func (w warnOnly) WithGroup(n string) slog.Handler      { return warnOnly{w.Handler.WithGroup(n)} }
