package services

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/metrics"
)

// How revocations reach every instance within a second (SESS-06, FI-7).
//
// Every revocation transaction calls pg_notify with the revoked session ids
// (the Sessions.Notify hook); PostgreSQL delivers the notification to every
// listener when, and only if, the transaction commits. Each instance keeps
// one dedicated connection (application_name "authd-listener") that LISTENs
// and adds the ids to its in-memory Revocations set, so verifying an access
// token needs no database query.
//
// When that connection is lost, notifications may be missed, so the set is
// switched to fallback mode at once: every access token's session is then
// looked up in the database (fail safe, never silently trust). After the
// feed reconnects it LISTENs first and then reloads the set from the
// database, so that no revocation can slip between the two; only then is the
// fallback switched off.

// ListenerApplicationName is the application_name of the LISTEN connection,
// by which operators (and tests) find it in pg_stat_activity.
const ListenerApplicationName = "authd-listener"

const (
	// feedHeartbeat is how long the feed waits for a notification before it
	// checks that its connection is still alive: a silent network cut is
	// noticed, and the fallback switched on, within about twice this.
	feedHeartbeat = 400 * time.Millisecond
	// feedMaxBackoff bounds the wait between reconnection attempts.
	feedMaxBackoff = 2 * time.Second
	// feedPruneEvery is how often revocations older than the access-token
	// lifetime are dropped from the set.
	feedPruneEvery = time.Minute
	// maxChannelLen is PostgreSQL's identifier length (NAMEDATALEN - 1).
	maxChannelLen = 63
)

// RevocationChannel returns the notification channel of the schema that db
// works in. Channels are per database, not per schema, so deployments (and
// test suites) that keep several authd schemas in one database must not hear
// each other's revocations.
func RevocationChannel(ctx context.Context, db *gorm.DB) (string, error) {
	var schema sql.NullString
	if err := db.WithContext(ctx).Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		return "", fmt.Errorf("current schema: %w", err)
	}
	ch := "authd_revoked_" + schema.String
	if len(ch) > maxChannelLen {
		sum := sha256.Sum256([]byte(schema.String))
		ch = "authd_revoked_" + hex.EncodeToString(sum[:16])
	}
	return ch, nil
}

// NotifyRevoked returns a Sessions.Notify hook that announces revoked
// session ids on channel inside the revocation's transaction.
func NotifyRevoked(channel string) func(ctx context.Context, tx *gorm.DB, ids []uuid.UUID) error {
	return func(ctx context.Context, tx *gorm.DB, ids []uuid.UUID) error {
		if len(ids) == 0 {
			return nil
		}
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = id.String()
		}
		// A payload must stay under 8000 bytes: 36-byte ids, 200 at a time.
		for len(parts) > 0 {
			n := min(len(parts), 200)
			if err := tx.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", channel, strings.Join(parts[:n], ",")).Error; err != nil {
				return fmt.Errorf("notify revocation: %w", err)
			}
			parts = parts[n:]
		}
		return nil
	}
}

// RevocationFeed keeps a Revocations set current with the revocations of
// every instance through PostgreSQL LISTEN/NOTIFY.
type RevocationFeed struct {
	cfg     *pgx.ConnConfig
	channel string
	set     *Revocations
	log     *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	fallback bool // this feed holds the fallback gauge up

	pid atomic.Uint32 // backend PID of the listener connection; 0 when down
}

// PID returns the server process id of the listener connection, or 0 while
// it is not connected (see pg_stat_activity, application_name
// ListenerApplicationName).
func (f *RevocationFeed) PID() uint32 { return f.pid.Load() }

// NewRevocationFeed returns a feed for the PostgreSQL database at
// databaseURL that listens on channel (RevocationChannel) and updates set.
// The set starts in fallback mode until the feed is connected.
func NewRevocationFeed(databaseURL, channel string, set *Revocations, log *slog.Logger) (*RevocationFeed, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("revocation feed: parse database URL: %w", err)
	}
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	// The listener waits for notifications indefinitely; the pool's
	// statement timeout has no meaning here.
	delete(cfg.RuntimeParams, "statement_timeout")
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 3*time.Second {
		cfg.ConnectTimeout = 3 * time.Second
	}
	return &RevocationFeed{cfg: cfg, channel: channel, set: set, log: log}, nil
}

// Start connects the feed (one attempt, so an instance that starts healthy
// serves without fallback from its first request) and keeps it connected in
// the background until Stop. Start never fails: while the feed is not
// connected, the set is in fallback mode.
func (f *RevocationFeed) Start(ctx context.Context) {
	f.setFallback(true)
	conn, err := f.connect(ctx)
	if err != nil {
		f.log.Warn("revocation feed: not connected; checking access tokens against the database until it is",
			slog.String("error", err.Error()))
	} else {
		f.setFallback(false)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go f.run(runCtx, conn)
}

// Stop ends the feed and closes its connection.
func (f *RevocationFeed) Stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	<-f.done
	f.cancel = nil
	// The process no longer has a feed in fallback; the set stays as it is.
	f.mu.Lock()
	if f.fallback {
		metrics.RevocationFallback.Dec()
		f.fallback = false
	}
	f.mu.Unlock()
}

// setFallback switches the set's database check and the metric.
func (f *RevocationFeed) setFallback(on bool) {
	f.set.SetFallback(on)
	f.mu.Lock()
	defer f.mu.Unlock()
	if on != f.fallback {
		f.fallback = on
		if on {
			metrics.RevocationFallback.Inc()
		} else {
			metrics.RevocationFallback.Dec()
		}
	}
}

// connect opens the listener connection, LISTENs, and then reloads the set,
// in this order, so that a revocation committed in between is either in the
// reload or delivered as a notification.
func (f *RevocationFeed) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, f.cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{f.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := f.set.Load(ctx); err != nil {
		closeConn(conn)
		return nil, err
	}
	f.pid.Store(conn.PgConn().PID())
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// run receives notifications, and reconnects with backoff whenever the
// connection is lost. conn may be nil (not connected yet).
func (f *RevocationFeed) run(ctx context.Context, conn *pgx.Conn) {
	defer close(f.done)
	backoff := 50 * time.Millisecond
	lastErr := ""
	for {
		if conn == nil {
			var err error
			conn, err = f.connect(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// One line per kind of failure, not one per attempt.
				if err.Error() != lastErr {
					f.log.Warn("revocation feed: reconnect failed; still checking access tokens against the database",
						slog.String("error", err.Error()))
					lastErr = err.Error()
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, feedMaxBackoff)
				continue
			}
			metrics.RevocationReconnects.Inc()
			f.setFallback(false)
			f.log.Info("revocation feed: reconnected; database fallback off")
			backoff, lastErr = 50*time.Millisecond, ""
		}
		err := f.listen(ctx, conn)
		f.pid.Store(0)
		closeConn(conn)
		conn = nil
		if ctx.Err() != nil {
			return
		}
		f.setFallback(true)
		f.log.Warn("revocation feed: connection lost; checking access tokens against the database until it is back",
			slog.String("error", err.Error()))
	}
}

// listen handles notifications on conn until it fails or ctx ends.
func (f *RevocationFeed) listen(ctx context.Context, conn *pgx.Conn) error {
	lastPrune := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, feedHeartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			f.received(n.Payload)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return err
		}
		// Quiet for a heartbeat: make sure the connection still works.
		pctx, cancel := context.WithTimeout(ctx, feedHeartbeat)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("heartbeat: %w", err)
		}
		if time.Since(lastPrune) >= feedPruneEvery {
			f.set.Prune()
			lastPrune = time.Now()
		}
	}
}

// received adds the session ids of one notification to the set.
func (f *RevocationFeed) received(payload string) {
	metrics.RevocationNotifications.Inc()
	now := f.set.now()
	for _, s := range strings.Split(payload, ",") {
		id, err := uuid.Parse(strings.TrimSpace(s))
		if err != nil {
			f.log.Warn("revocation feed: ignoring a malformed notification")
			continue
		}
		f.set.Add(id, now)
	}
}

// PruneRevocations drops expired entries from set every interval until ctx
// ends (for SQLite, which has no feed; the feed prunes on its own).
func PruneRevocations(ctx context.Context, set *Revocations, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			set.Prune()
		}
	}
}
