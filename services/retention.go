package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/authd/authd/metrics"
	"github.com/authd/authd/models"
)

// RetentionConfig is the retention slice of the configuration.
type RetentionConfig struct {
	// Interval between rounds; 0 turns the background job off.
	Interval time.Duration
	// SessionRetention keeps revoked and expired sessions (the devices
	// list of an investigation) this long after they ended.
	SessionRetention time.Duration
	// EventRetention keeps security events this long; 0 keeps them forever.
	EventRetention time.Duration
	// RefreshTTL is the idle timeout of sessions: a session unused for
	// RefreshTTL has ended even if it was never revoked.
	RefreshTTL time.Duration
	// ReuseGrace: refresh-token rows are kept this long past their expiry,
	// so a retry racing the expiry still finds its row.
	ReuseGrace time.Duration
	// BatchSize rows per DELETE (default 1000): short transactions that
	// never hold many row locks at once.
	BatchSize int
}

// RetentionRound is what one round deleted.
type RetentionRound struct {
	RefreshTokens int64
	Sessions      int64
	DeviceTokens  int64
	Events        int64
	// Skipped: another instance held the retention lock, so this one did
	// nothing (more) this round.
	Skipped bool
}

// Retention deletes what authd no longer needs: refresh-token rows past
// their expiry, sessions that ended more than SessionRetention ago, and
// expired device tokens. It
// never deletes security events unless EventRetention is set. It is safe to
// run on every instance at once: each batch is its own short transaction
// that first takes a PostgreSQL advisory lock, and an instance that finds
// the lock taken leaves the round to the holder.
type Retention struct {
	db  *gorm.DB
	cfg RetentionConfig
	log *slog.Logger
	now Clock
}

// NewRetention returns a Retention.
func NewRetention(db *gorm.DB, cfg RetentionConfig, log *slog.Logger, now Clock) *Retention {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	return &Retention{db: db, cfg: cfg, log: log, now: now}
}

// Run runs a round every Interval until ctx is done. Failed rounds are
// logged and retried at the next tick.
func (r *Retention) Run(ctx context.Context) {
	if r.cfg.Interval <= 0 {
		return
	}
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("retention round failed", slog.String("error", err.Error()))
		}
	}
}

// errLocked ends a round whose lock another instance holds.
var errLocked = errors.New("retention lock held by another instance")

// RunOnce runs one round: batches of deletes until nothing is left, and
// logs one progress line.
func (r *Retention) RunOnce(ctx context.Context) (RetentionRound, error) {
	start := time.Now()
	now := r.now()
	var round RetentionRound
	steps := []struct {
		table string
		n     *int64
		del   func(tx *gorm.DB) (int64, error)
	}{
		{"refresh_tokens", &round.RefreshTokens, func(tx *gorm.DB) (int64, error) {
			return models.DeleteExpiredRefreshTokens(ctx, tx, now.Add(-r.cfg.ReuseGrace), r.cfg.BatchSize)
		}},
		{"sessions", &round.Sessions, func(tx *gorm.DB) (int64, error) {
			cutoff := now.Add(-r.cfg.SessionRetention)
			return models.DeleteStaleSessions(ctx, tx, cutoff, cutoff.Add(-r.cfg.RefreshTTL), r.cfg.BatchSize)
		}},
		{"device_tokens", &round.DeviceTokens, func(tx *gorm.DB) (int64, error) {
			return models.DeleteExpiredDeviceTokens(ctx, tx, now, r.cfg.BatchSize)
		}},
	}
	if r.cfg.EventRetention > 0 {
		steps = append(steps, struct {
			table string
			n     *int64
			del   func(tx *gorm.DB) (int64, error)
		}{"security_events", &round.Events, func(tx *gorm.DB) (int64, error) {
			return models.PurgeSecurityEvents(ctx, tx, now.Add(-r.cfg.EventRetention), r.cfg.BatchSize)
		}})
	}
	var err error
steps:
	for _, st := range steps {
		for {
			var n int64
			n, err = r.batch(ctx, st.del)
			*st.n += n
			metrics.RetentionDeleted.WithLabelValues(st.table).Add(float64(n))
			if errors.Is(err, errLocked) {
				round.Skipped, err = true, nil
				break steps
			}
			if err != nil {
				err = fmt.Errorf("retention %s: %w", st.table, err)
				break steps
			}
			if n < int64(r.cfg.BatchSize) {
				break
			}
		}
	}
	r.log.Info("retention round",
		slog.Int64("refresh_tokens_deleted", round.RefreshTokens),
		slog.Int64("sessions_deleted", round.Sessions),
		slog.Int64("device_tokens_deleted", round.DeviceTokens),
		slog.Int64("events_deleted", round.Events),
		slog.Bool("skipped", round.Skipped),
		slog.Duration("took", time.Since(start)))
	return round, err
}

// batch runs one delete in its own transaction under the retention lock.
func (r *Retention) batch(ctx context.Context, del func(tx *gorm.DB) (int64, error)) (int64, error) {
	var n int64
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		ok, err := models.TryRetentionLock(ctx, tx)
		if err != nil {
			return err
		}
		if !ok {
			return errLocked
		}
		n, err = del(tx)
		return err
	})
	return n, err
}
