// Package pgfeed carries revocations and role changes between authd
// instances through PostgreSQL LISTEN/NOTIFY: the services.Publisher of a
// PostgreSQL deployment, and the listener that keeps each instance's
// services.Revocations current.
//
// Publish sends pg_notify inside the revoking transaction, so PostgreSQL
// delivers the notification to every listener when, and only if, that
// transaction commits. Each instance keeps one dedicated connection
// (application_name "authd-listener") on which github.com/jackc/pgxlisten
// LISTENs and dispatches notifications; it was picked over a hand-written
// loop because it already gets the order right (LISTEN first, then the
// backlog, so that nothing slips between the two) and survives outages.
//
// When that connection is lost, notifications may be missed, so the set is
// switched to fallback mode at once: every access token's session and role
// are then looked up in the database (fail safe, never silently trust).
// After the feed reconnects (with backoff) it LISTENs first and then
// reloads the set from the database; only then is the fallback switched
// off. A silent network cut is noticed by a heartbeat: after a quiet
// heartbeat, the feed notifies a channel of its own from a second small
// connection and expects to hear it back within the next.
package pgfeed

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
	"gorm.io/gorm"

	"github.com/authd/authd/metrics"
	"github.com/authd/authd/services"
)

// ListenerApplicationName is the application_name of the LISTEN connection,
// by which operators (and tests) find it in pg_stat_activity.
const ListenerApplicationName = "authd-listener"

// HeartbeatApplicationName is the application_name of the connection that
// sends the feed's heartbeats.
const HeartbeatApplicationName = "authd-listener-heartbeat"

const (
	// heartbeat is how long the feed may stay quiet before it checks that
	// its connection still delivers: a silent network cut is noticed, and
	// the fallback switched on, within about twice this.
	heartbeat = 400 * time.Millisecond
	// maxBackoff bounds the wait between reconnection attempts.
	maxBackoff = 2 * time.Second
	// maxChannelLen is PostgreSQL's identifier length (NAMEDATALEN - 1).
	maxChannelLen = 63
	// maxPayload keeps a notification under PostgreSQL's 8000-byte limit.
	maxPayload = 7900
)

// Channel returns the notification channel of the schema that db works in.
// Channels are per database, not per schema, so deployments (and test
// suites) that keep several authd schemas in one database must not hear
// each other's revocations.
func Channel(ctx context.Context, db *gorm.DB) (string, error) {
	var name string
	if err := db.WithContext(ctx).Raw("SELECT COALESCE(current_schema(), '')").Scan(&name).Error; err != nil {
		return "", fmt.Errorf("current schema: %w", err)
	}
	ch := "authd_revoked_" + name
	if len(ch) > maxChannelLen {
		sum := sha256.Sum256([]byte(name))
		ch = "authd_revoked_" + hex.EncodeToString(sum[:16])
	}
	return ch, nil
}

// A payload is a comma-separated list of items: a revoked session is its
// bare id (the format of earlier releases, so that instances of the
// previous release still hear revocations during a rolling upgrade), and a
// role change is "role:<user id>:<role>", which those instances skip.
const rolePrefix = "role:"

// payloads encodes c as few notifications as fit the payload limit: one
// for any revoke-all of a user.
func payloads(c services.Change) []string {
	items := make([]string, 0, len(c.Sessions)+len(c.Roles))
	for _, id := range c.Sessions {
		items = append(items, id.String())
	}
	for _, r := range c.Roles {
		items = append(items, rolePrefix+r.UserID.String()+":"+r.Role)
	}
	var out []string
	var b strings.Builder
	for _, it := range items {
		if b.Len() > 0 && b.Len()+1+len(it) > maxPayload {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(it)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// parse decodes a payload; bad reports whether any item was malformed.
func parse(payload string) (c services.Change, bad bool) {
	for _, it := range strings.Split(payload, ",") {
		it = strings.TrimSpace(it)
		if rest, ok := strings.CutPrefix(it, rolePrefix); ok {
			user, role, _ := strings.Cut(rest, ":")
			id, err := uuid.Parse(user)
			if err != nil || (role != "user" && role != "admin") {
				bad = true
				continue
			}
			c.Roles = append(c.Roles, services.RoleChange{UserID: id, Role: role})
			continue
		}
		id, err := uuid.Parse(it)
		if err != nil {
			bad = true
			continue
		}
		c.Sessions = append(c.Sessions, id)
	}
	return c, bad
}

// publish announces c on channel inside tx: one notification, or a few
// when the ids do not fit in one.
func publish(ctx context.Context, tx *gorm.DB, channel string, c services.Change) error {
	for _, p := range payloads(c) {
		if err := tx.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", channel, p).Error; err != nil {
			return fmt.Errorf("notify revocation: %w", err)
		}
	}
	return nil
}

// Feed keeps a services.Revocations current with the changes of every
// instance, and publishes this instance's.
type Feed struct {
	cfg     *pgx.ConnConfig
	channel string
	beatCh  string // the heartbeat channel, this feed's own
	set     *services.Revocations
	log     *slog.Logger

	listener pgxlisten.Listener
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	ready    chan struct{} // closed after the first connection attempt
	once     sync.Once
	beats    chan struct{} // a heartbeat came back

	mu       sync.Mutex
	conn     *pgx.Conn // the listener connection, while connected
	up       bool      // LISTENing with the set reloaded
	everUp   bool
	heard    time.Time // last notification of any kind
	failures int       // connection attempts since the last success
	lastErr  string
	fallback bool // this feed holds the fallback gauge up

	pid atomic.Uint32 // backend PID of the listener connection; 0 when down
}

// New returns a feed for the PostgreSQL database at databaseURL that
// listens on channel (Channel) and updates set. The set starts in fallback
// mode until the feed is connected.
func New(databaseURL, channel string, set *services.Revocations, log *slog.Logger) (*Feed, error) {
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
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("revocation feed: %w", err)
	}
	f := &Feed{cfg: cfg, channel: channel, beatCh: "authd_beat_" + hex.EncodeToString(b[:]), set: set, log: log,
		beats: make(chan struct{}, 1)}
	f.listener = pgxlisten.Listener{
		Connect:  f.connect,
		LogError: f.connectionFailed,
		// The backoff is in connect: the first attempt after a loss is
		// immediate, later ones wait longer and longer.
		ReconnectDelay: -1,
	}
	f.listener.Handle(channel, changes{f})
	f.listener.Handle(f.beatCh, pgxlisten.HandlerFunc(f.heartbeatReceived))
	return f, nil
}

// Publish announces c inside tx (services.Publisher). Every listener, this
// instance's included, receives it when tx commits.
func (f *Feed) Publish(ctx context.Context, tx *gorm.DB, c services.Change) error {
	return publish(ctx, tx, f.channel, c)
}

// PID returns the server process id of the listener connection, or 0 while
// it is not connected (see pg_stat_activity, application_name
// ListenerApplicationName).
func (f *Feed) PID() uint32 { return f.pid.Load() }

// Start connects the feed (one attempt is awaited, so an instance that
// starts healthy serves without fallback from its first request) and keeps
// it connected in the background until Stop. Start never fails: while the
// feed is not connected, the set is in fallback mode.
func (f *Feed) Start(ctx context.Context) {
	f.setFallback(true)
	f.ready = make(chan struct{})
	runCtx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		_ = f.listener.Listen(runCtx) // returns only when runCtx ends
	}()
	go func() {
		defer f.wg.Done()
		f.watch(runCtx)
	}()
	select {
	case <-f.ready:
	case <-ctx.Done():
	case <-time.After(2 * f.cfg.ConnectTimeout):
	}
}

// Stop ends the feed and closes its connections.
func (f *Feed) Stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.wg.Wait()
	f.cancel = nil
	f.pid.Store(0)
	// The process no longer has a feed in fallback; the set stays as it is.
	f.mu.Lock()
	if f.fallback {
		metrics.RevocationFallback.Dec()
		f.fallback = false
	}
	f.mu.Unlock()
}

// setFallback switches the set's database check and the metric.
func (f *Feed) setFallback(on bool) {
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

func (f *Feed) firstAttemptDone() { f.once.Do(func() { close(f.ready) }) }

// connect opens the listener connection for pgxlisten, which then LISTENs
// and calls changes.HandleBacklog. It is called again after every loss.
func (f *Feed) connect(ctx context.Context) (*pgx.Conn, error) {
	f.down()
	f.mu.Lock()
	n := f.failures
	f.failures++
	f.mu.Unlock()
	if n > 0 {
		wait := min(50*time.Millisecond<<min(n-1, 6), maxBackoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	conn, err := pgx.ConnectConfig(ctx, f.cfg)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.conn = conn
	f.mu.Unlock()
	return conn, nil
}

// down marks the listener connection lost: the set may go stale from now.
func (f *Feed) down() {
	f.mu.Lock()
	wasUp := f.up
	f.up, f.conn = false, nil
	f.mu.Unlock()
	f.pid.Store(0)
	if wasUp {
		f.setFallback(true)
	}
}

// connectionFailed is pgxlisten's LogError: the connection could not be
// made, or was lost. Either way the set may be stale.
func (f *Feed) connectionFailed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // stopping
	}
	f.mu.Lock()
	wasUp, everUp := f.up, f.everUp
	repeated := err.Error() == f.lastErr
	f.lastErr = err.Error()
	f.mu.Unlock()
	f.down()
	f.setFallback(true)
	switch {
	case wasUp:
		f.log.Warn("revocation feed: connection lost; checking access tokens against the database until it is back",
			slog.String("error", err.Error()))
	case !everUp && !repeated:
		f.log.Warn("revocation feed: not connected; checking access tokens against the database until it is",
			slog.String("error", err.Error()))
	case !repeated:
		// One line per kind of failure, not one per attempt.
		f.log.Warn("revocation feed: reconnect failed; still checking access tokens against the database",
			slog.String("error", err.Error()))
	}
	f.firstAttemptDone()
}

// changes handles the notifications of the revocation channel.
type changes struct{ f *Feed }

// HandleBacklog runs after LISTEN on a new connection: it reloads the set,
// so that a change committed before LISTEN is in the reload and one
// committed after it arrives as a notification. Only then is the fallback
// switched off.
func (h changes) HandleBacklog(ctx context.Context, _ string, conn *pgx.Conn) error {
	f := h.f
	if err := f.set.Load(ctx); err != nil {
		// Without the reload the set is stale: drop the connection, so that
		// pgxlisten reconnects and tries again (after the backoff).
		_ = conn.PgConn().Conn().Close()
		return err
	}
	f.mu.Lock()
	reconnect := f.everUp
	f.up, f.everUp, f.failures, f.lastErr = true, true, 0, ""
	f.heard = time.Now()
	f.mu.Unlock()
	f.pid.Store(conn.PgConn().PID())
	f.setFallback(false)
	if reconnect {
		metrics.RevocationReconnects.Inc()
		f.log.Info("revocation feed: reconnected; database fallback off")
	}
	f.firstAttemptDone()
	return nil
}

// HandleNotification applies one notification to the set.
func (h changes) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	f := h.f
	f.heardNow()
	metrics.RevocationNotifications.Inc()
	c, bad := parse(n.Payload)
	if bad {
		f.log.Warn("revocation feed: ignoring a malformed notification")
	}
	f.set.Apply(c)
	return nil
}

func (f *Feed) heardNow() {
	f.mu.Lock()
	f.heard = time.Now()
	f.mu.Unlock()
}

func (f *Feed) heartbeatReceived(context.Context, *pgconn.Notification, *pgx.Conn) error {
	f.heardNow()
	select {
	case f.beats <- struct{}{}:
	default:
	}
	return nil
}

// watch sends a heartbeat whenever the listener has been quiet for a
// heartbeat, and cuts the listener connection when it does not come back
// in time (a silent network cut: nothing else would notice).
func (f *Feed) watch(ctx context.Context) {
	// The heartbeat connection lives while the listener does, so that one
	// left over from before an outage never fails a new listener.
	var pinger *pgx.Conn
	hangUp := func() {
		if pinger != nil {
			closeConn(pinger)
			pinger = nil
		}
	}
	defer hangUp()
	tick := time.NewTicker(heartbeat / 4)
	defer tick.Stop()
	var dropped *pgx.Conn // cut, and pgxlisten has yet to notice
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		f.mu.Lock()
		conn, up, quiet := f.conn, f.up, time.Since(f.heard)
		f.mu.Unlock()
		if !up {
			hangUp()
			continue
		}
		if quiet < heartbeat || conn == dropped {
			continue
		}
		err := f.beat(ctx, &pinger)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			hangUp()
			f.cut(conn, err)
			dropped = conn
		}
	}
}

// beat notifies the feed's own heartbeat channel from the heartbeat
// connection (opened first when needed) and waits for the listener to hear
// it, at most a heartbeat.
func (f *Feed) beat(ctx context.Context, pinger **pgx.Conn) error {
	if *pinger == nil {
		cfg := f.cfg.Copy()
		cfg.RuntimeParams["application_name"] = HeartbeatApplicationName
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return fmt.Errorf("heartbeat connection: %w", err)
		}
		*pinger = conn
	}
	select { // a late answer to an earlier heartbeat proves nothing now
	case <-f.beats:
	default:
	}
	sent := time.Now()
	pctx, cancel := context.WithTimeout(ctx, heartbeat)
	defer cancel()
	if _, err := (*pinger).Exec(pctx, "SELECT pg_notify($1, '')", f.beatCh); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	select {
	case <-f.beats:
		return nil
	case <-pctx.Done():
		return fmt.Errorf("no heartbeat came back within %s of %s", heartbeat, sent.Format(time.RFC3339Nano))
	}
}

// cut drops the listener connection conn after a failed heartbeat, unless
// it was replaced meanwhile. Closing the socket is safe while pgxlisten
// waits on it: the wait fails, connectionFailed says the connection was
// lost, and pgxlisten reconnects.
func (f *Feed) cut(conn *pgx.Conn, err error) {
	f.mu.Lock()
	current := f.up && f.conn == conn
	f.mu.Unlock()
	if !current {
		return
	}
	f.log.Warn("revocation feed: heartbeat failed; dropping the LISTEN connection", slog.String("error", err.Error()))
	f.setFallback(true)
	_ = conn.PgConn().Conn().Close()
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
