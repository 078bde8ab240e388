// Package app wires one authd instance from its configuration: database,
// services, middleware and the HTTP engine, and serves it with a graceful
// drain.
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/handlers"
	"github.com/authd/authd/internal/platform/dpopreplay"
	"github.com/authd/authd/internal/platform/memfeed"
	"github.com/authd/authd/internal/platform/outbox"
	"github.com/authd/authd/internal/platform/pgfeed"
	"github.com/authd/authd/internal/platform/ratelimit"
	"github.com/authd/authd/metrics"
	"github.com/authd/authd/middleware"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// Package app wires one authd instance from its configuration: database,
// services, middleware and the HTTP engine, and serves it with a graceful
// drain.

// App is one authd instance, wired from its configuration.
type App struct {
	cfg      Config
	log      *slog.Logger
	db       *models.DB
	engine   *gin.Engine
	revoked  *services.Revocations
	feed     *pgfeed.Feed
	sessions *services.Sessions
	accounts *services.Accounts
	tokens   *services.Tokens
	hasher   *services.Hasher
	draining atomic.Bool
	closers  []func()

	limits     *ratelimit.Store
	rateKey    []byte
	rateEvents *services.RateLimitEvents
	admin      *services.Admin
	retention  *services.Retention
	devices    *services.DeviceTokens
	ssf        *services.SSF
	outbox     *outbox.Outbox
	ssfPush    *outbox.SSFPush
	events     *services.Events
	webhooks   *services.Webhooks
	dpop       *services.DPoP
	// redis is the Redis client shared by the rate limits and the DPoP
	// replay cache (nil without AUTHD_REDIS_URL).
	redis *redis.Client
	// metricsAddr is the bound address of the metrics listener
	// (AUTHD_METRICS_ADDR), once Run has bound it.
	metricsAddr atomic.Value
}

// OpenDB opens the configured database without migrating it.
func OpenDB(cfg Config, appName string) (*models.DB, error) {
	return models.Open(models.Options{
		URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath, MaxOpenConns: cfg.DBMaxOpenConns,
		StatementTimeout: cfg.DBTimeout, LockTimeout: cfg.DBLockTimeout, ApplicationName: appName,
	})
}

func newLogger(cfg Config, out io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(out, opts))
	}
	return slog.New(slog.NewJSONHandler(out, opts))
}

// New opens and migrates the database and builds the services and the
// HTTP engine. clock, when set, drives every time decision of the instance
// (a test's settable clock). nil is the system clock, and on PostgreSQL the
// database's clock for the decisions of a refresh, so that instances with
// skewed clocks agree on grace windows and expiries (FI-8).
func New(ctx context.Context, cfg Config, logOut io.Writer, clock services.Clock) (*App, error) {
	return newApp(ctx, cfg, logOut, clock, clock == nil)
}

// NewSkewed is New on a system clock that is off by skew: an instance whose
// own clock is wrong. It still decides refreshes on the database's clock.
func NewSkewed(ctx context.Context, cfg Config, logOut io.Writer, skew time.Duration) (*App, error) {
	return newApp(ctx, cfg, logOut, func() time.Time { return services.SystemClock().Add(skew) }, true)
}

func newApp(ctx context.Context, cfg Config, logOut io.Writer, clock services.Clock, databaseTime bool) (*App, error) {
	if clock == nil {
		clock = services.SystemClock
	}
	a := &App{cfg: cfg, log: newLogger(cfg, logOut)}
	for _, w := range cfg.Warnings {
		a.log.Warn(w)
	}
	db, err := OpenDB(cfg, "authd")
	if err != nil {
		return nil, err
	}
	a.db = db
	a.closers = append(a.closers, func() { db.Close() })
	a.closers = append(a.closers, metrics.TrackDB(collectors.NewDBStatsCollector(db.SQL(), metrics.DBName)))
	if err := db.Migrate(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	key, err := services.LoadServerKey(ctx, db.DB)
	if err != nil {
		a.Close()
		return nil, err
	}
	// Filled by revocationFeed: on PostgreSQL the feed loads it after
	// LISTEN (so nothing slips in between), on SQLite it is loaded there.
	a.revoked = services.NewRevocations(db.DB, cfg.AccessTTL, clock)
	pub, err := a.revocationFeed(ctx)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.tokens, err = services.NewTokens(services.TokenConfig{
		Alg: cfg.JWTAlg, Secret: cfg.JWTSecretBytes, PrivateKey: cfg.PrivateKey,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, AccessTTL: cfg.AccessTTL,
	}, a.revoked, clock)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.hasher, err = services.NewHasher(cfg.BcryptCost, cfg.BcryptConcurrency, cfg.BcryptWait, cfg.BcryptNice)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.closers = append(a.closers, a.hasher.Close)
	events := services.NewEvents(clock)
	events.Observe(services.CountEvent)
	events.Observe(services.LogEvent(a.log))
	a.events = events
	if err := a.openOutbox(ctx, events, clock); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.openSSF(ctx, events, clock); err != nil {
		a.Close()
		return nil, err
	}
	// The dialect is chosen here, once: the rotation store of the database,
	// deciding on the database's clock on PostgreSQL unless a test's clock
	// drives the decisions.
	rotations := services.NewRotationStore(db, databaseTime)
	a.sessions = services.NewSessions(db.DB, rotations, services.SessionConfig{
		RefreshTTL: cfg.RefreshTTL, MaxAge: cfg.SessionMaxAge, ReuseGrace: cfg.ReuseGrace, MaxSessions: cfg.MaxSessions,
		NewDeviceWindow: cfg.NewDeviceWindow,
	}, a.tokens, events, a.revoked, pub, key, clock)
	a.accounts = services.NewAccounts(db.DB, services.AccountConfig{
		MinPasswordLength: cfg.PasswordMinLength, SignupEnabled: cfg.SignupEnabled,
	}, a.hasher, events, a.sessions, clock)
	a.rateEvents = services.NewRateLimitEvents(db.DB, events)
	if err := a.openRateLimits(ctx); err != nil {
		a.Close()
		return nil, err
	}
	// A proof's freshness is judged on the real clock, always: it is a
	// comparison with the client's real clock, and Redis expires proof ids
	// in real time. A test's settable clock drives session lifetimes only.
	a.dpop = services.NewDPoP(services.DPoPConfig{
		MaxAge: cfg.DPoPMaxAge, RequireNonce: cfg.DPoPNonce, RequiredClients: cfg.DPoPRequiredClients,
	}, a.dpopReplayCache(services.SystemClock), key, services.SystemClock)
	a.admin = services.NewAdmin(db.DB, a.sessions, clock)
	a.devices = services.NewDeviceTokens(db.DB, cfg.DeviceTokenTTL, clock)
	a.retention = services.NewRetention(db.DB, services.RetentionConfig{
		Interval: cfg.RetentionInterval, SessionRetention: cfg.SessionRetention, EventRetention: cfg.EventRetention,
		RefreshTTL: cfg.RefreshTTL, ReuseGrace: cfg.ReuseGrace,
	}, a.log, clock)

	a.engine, err = a.buildEngine()
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// revocationFeed returns the publisher that makes revocations and role
// changes reach every other instance within a second, and keeps this
// instance's set current with theirs: PostgreSQL LISTEN/NOTIFY (stopped in
// Close). SQLite serves one instance, whose services apply their own
// changes in process; since the command line changes roles from another
// process that no feed connects, admin roles are confirmed there in the
// database.
func (a *App) revocationFeed(ctx context.Context) (services.Publisher, error) {
	if !a.db.IsPostgres() {
		// One process owns the file: load once.
		if err := a.revoked.Load(ctx); err != nil {
			return nil, err
		}
		a.revoked.ConfirmAdmins(true)
		return memfeed.New(), nil
	}
	channel, err := pgfeed.Channel(ctx, a.db.DB)
	if err != nil {
		return nil, err
	}
	listenURL := a.cfg.DatabaseListenURL
	if listenURL == "" {
		listenURL = a.cfg.DatabaseURL
	}
	a.feed, err = pgfeed.New(listenURL, channel, a.revoked, a.log)
	if err != nil {
		return nil, err
	}
	a.feed.Start(ctx)
	a.closers = append(a.closers, a.feed.Stop)
	return a.feed, nil
}

func (a *App) buildEngine() (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Trust no proxy unless configured: gin trusts every proxy by default,
	// which lets any client forge X-Forwarded-For (gin #2473).
	var proxies []string
	for _, p := range a.cfg.TrustedProxies {
		if p = strings.TrimSpace(p); p != "" {
			proxies = append(proxies, p)
		}
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		return nil, fmt.Errorf("AUTHD_TRUSTED_PROXIES: %w", err)
	}
	r.HandleMethodNotAllowed = true
	r.NoRoute(middleware.NotFound)
	r.NoMethod(middleware.MethodNotAllowed)
	r.Use(
		middleware.RequestIDs(),
		middleware.Metrics(),
		middleware.AccessLog(a.log),
		middleware.Recover(a.log),
		middleware.Errors(a.log),
		middleware.SecurityHeaders(a.cfg.TLSCertFile != ""),
		middleware.Timeout(a.cfg.RequestTimeout),
	)
	if cors := middleware.CORS(a.cfg.CORSOrigins); cors != nil {
		r.Use(cors)
	}
	rl := middleware.NewRateLimits(a.limits, a.rateKey, a.rateEvents, a.log)
	handlers.Register(r, handlers.Services{
		Accounts: a.accounts, Sessions: a.sessions, Tokens: a.tokens, DeviceTokens: a.devices,
		Ping: a.db.Ping, Draining: &a.draining,
		Admin: a.admin, Metrics: a.publicMetrics(), SSF: a.ssf, Webhooks: a.webhooks, DPoP: a.dpop,
	}, handlers.Middleware{
		Authenticate: middleware.AuthenticateDPoP(a.tokens, middleware.DPoPOptions{Check: a.dpop,
			URL: func(c *gin.Context) string { return handlers.RequestURL(c, a.cfg.PublicURL) }}),
		RequireAdmin: middleware.RequireAdmin,
		NoStore:      middleware.NoStore,
		// Rate limits: per address on login, register and refresh; failed
		// password proofs per account or known device on login and per
		// session on re-authentication and password change (checked in the
		// handlers before any bcrypt work, F8d).
		LimitLogin:    rl.PerAddress("login_ip", a.cfg.RateLoginIP.Rates),
		LimitRegister: rl.PerAddress("register_ip", a.cfg.RateRegisterIP.Rates),
		LimitRefresh:  rl.PerAddress("refresh_ip", a.cfg.RateRefreshIP.Rates),
		LimitAccount:  rl.PerAccount("login_account", a.cfg.RateLoginAccount.Rates),
		LimitDevice:   rl.PerDevice("login_device", a.cfg.RateLoginDevice.Rates),
		LimitReauth:   rl.PerSession("reauth_session", a.cfg.RateReauthSession.Rates),
		MetricsAuth:   a.metricsAuth(),
		OAuthErrors:   middleware.OAuthErrors,
	}, handlers.Options{CookieSecure: a.cfg.CookieSecure, PublicURL: a.cfg.PublicURL})
	return r, nil
}

// rateLimitKeyName names the key of rate-limit counter hashes in server_keys.
const rateLimitKeyName = "ratelimit_keys_v1"

// openRateLimits builds the rate-limit store: Redis when AUTHD_REDIS_URL is
// set (limits across all instances), with the in-process store as fallback;
// the in-process store alone otherwise. The key that hashes addresses and
// emails in counter names lives in the database, so every instance on it
// counts a client under the same name.
func (a *App) openRateLimits(ctx context.Context) error {
	candidate := make([]byte, 32)
	if _, err := rand.Read(candidate); err != nil {
		return fmt.Errorf("rate-limit key: %w", err)
	}
	key, err := models.EnsureServerKey(ctx, a.db.DB, rateLimitKeyName, candidate, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("rate-limit key: %w", err)
	}
	a.rateKey = key
	var client ratelimit.Client
	if a.cfg.RedisURL != "" {
		c, err := ratelimit.Dial(a.cfg.RedisURL, a.cfg.RateStoreTimeout)
		if err != nil {
			return err
		}
		a.closers = append(a.closers, func() { _ = c.Close() })
		client = c
		a.redis = c
	}
	a.limits = ratelimit.New(client, ratelimit.Options{
		Prefix: a.cfg.RatePrefix, Timeout: a.cfg.RateStoreTimeout, Log: a.log,
	})
	a.closers = append(a.closers, a.limits.Close)
	return nil
}

// dpopReplayCache is where proof ids are remembered: Redis when
// AUTHD_REDIS_URL is set (a proof replayed against another instance is
// refused; on a Redis failure the in-process cache answers, see package
// dpopreplay), in process otherwise. Its keys live under
// AUTHD_RATE_PREFIX + ":dpop:".
func (a *App) dpopReplayCache(clock services.Clock) services.ReplayCache {
	if a.redis == nil {
		return dpopreplay.NewMemory(clock)
	}
	return dpopreplay.NewRedis(a.redis, a.cfg.RatePrefix+":dpop:", clock, a.log)
}

// DPoP returns the DPoP proof checker.
func (a *App) DPoP() *services.DPoP { return a.dpop }

// RateLimitStore returns the rate-limit store.
func (a *App) RateLimitStore() *ratelimit.Store { return a.limits }

// publicMetrics is the /metrics handler of the main address: none when the
// metrics have an address of their own, nor in production without
// AUTHD_METRICS_TOKEN (the metrics tell an outsider too much: traffic,
// failed logins, reuse detections).
func (a *App) publicMetrics() http.Handler {
	if a.cfg.MetricsAddr != "" || (a.cfg.Env == "production" && a.cfg.MetricsToken == "") {
		return nil
	}
	return metrics.Handler()
}

// metricsAuth guards /metrics on the main address with AUTHD_METRICS_TOKEN
// when it is set; nil (open, for development) when it is not.
func (a *App) metricsAuth() gin.HandlerFunc {
	if a.cfg.MetricsToken == "" {
		return nil
	}
	return middleware.RequireBearerSecret(a.cfg.MetricsToken)
}

// Close releases the database and background work.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// defaultGCPercent is the GC target of `authd serve` when GOGC is not set.
const defaultGCPercent = 400

// Serve runs authd until ctx is done, then drains: /readyz turns 503, and
// after AUTHD_DRAIN_DELAY the listener closes and in-flight requests finish
// (up to AUTHD_SHUTDOWN_TIMEOUT). listening, when set, receives the bound
// address.
func Serve(ctx context.Context, cfg Config, logOut io.Writer, listening func(addr string)) error {
	// The bcrypt workers run at low OS priority on threads of their own;
	// give them Go processors of their own too, so that a login flood never
	// holds every processor and requests keep being scheduled at once.
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + cfg.BcryptConcurrency)
	// authd's live heap is small (about 7 MiB at rest, 6.3 MiB of it
	// zxcvbn's dictionaries; 10-11 MiB under load) and a request allocates
	// a few kB, so Go's default (GOGC=100) collects
	// several times a second: about a tenth of the CPU at 15,000 /v1/me
	// requests/s. GOGC=400 collects a quarter as often for a heap of about
	// five times the live data (bench/run.sh states the peak RSS). An
	// operator's own GOGC wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	// GOGC alone lets the heap reach five times the live data between
	// cycles (120-190 MiB of RSS under a refresh load); a soft limit makes
	// the GC collect earlier once the runtime's memory approaches it, so
	// the heap stays near AUTHD_MEMORY_LIMIT and the RSS near it plus the
	// binary's mapped pages (about 28-31 MiB). GOGC still sets the pace
	// below the limit. An operator's own GOMEMLIMIT wins.
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(cfg.MemoryLimit))
	}
	lw := newLogWriter(logOut)
	defer lw.Close()
	a, err := New(ctx, cfg, lw, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx, listening)
}

// Run serves on AUTHD_ADDR until ctx is done, then drains.
func (a *App) Run(ctx context.Context, listening func(addr string)) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("AUTHD_ADDR: %w", err)
	}
	srv := &http.Server{
		Handler:           a.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	if a.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(a.cfg.TLSCertFile, a.cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("AUTHD_TLS_CERT_FILE/AUTHD_TLS_KEY_FILE: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	addr := ln.Addr().String()
	metricsSrv, metricsErrc, err := a.serveMetrics()
	if err != nil {
		ln.Close()
		return err
	}
	if metricsSrv != nil {
		defer metricsSrv.Close()
	}
	a.log.Info("listening", slog.String("addr", addr), slog.String("config", a.cfg.String()))
	if listening != nil {
		listening(addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	bgCtx, stopBackground := context.WithCancel(context.Background())
	background := make(chan struct{})
	go func() {
		defer close(background)
		a.retention.Run(bgCtx)
	}()
	defer func() {
		stopBackground()
		<-background
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case err := <-metricsErrc:
		srv.Close()
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
	}
	// Drain: tell the load balancer first, then stop accepting and wait for
	// the requests in flight (ListenAndServe returning is not the end:
	// Shutdown is, F16).
	a.draining.Store(true)
	a.log.Info("draining", slog.Duration("delay", a.cfg.DrainDelay))
	if a.cfg.DrainDelay > 0 {
		time.Sleep(a.cfg.DrainDelay)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if metricsSrv != nil {
		// Scrapes go on while the main server drains; the metrics stop last.
		if err := metricsSrv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown metrics: %w", err)
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// serveMetrics starts the metrics server on AUTHD_METRICS_ADDR, when set.
// Its errors arrive on the returned channel (nil without the server).
func (a *App) serveMetrics() (*http.Server, <-chan error, error) {
	if a.cfg.MetricsAddr == "" {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("AUTHD_METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.metricsAddr.Store(ln.Addr().String())
	a.log.Info("metrics listening", slog.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	return srv, errc, nil
}

// MetricsAddr returns the bound address of the metrics server
// (AUTHD_METRICS_ADDR), or "" when there is none or Run has not bound it.
func (a *App) MetricsAddr() string {
	s, _ := a.metricsAddr.Load().(string)
	return s
}

// Outbox returns the outbox of security events.
func (a *App) Outbox() *outbox.Outbox { return a.outbox }

// Events returns the recorder of security events.
func (a *App) Events() *services.Events { return a.events }

// Webhooks returns the webhook service.
func (a *App) Webhooks() *services.Webhooks { return a.webhooks }

// Admin returns the admin service.
func (a *App) Admin() *services.Admin { return a.admin }

// Retention returns the retention job.
func (a *App) Retention() *services.Retention { return a.retention }

// InsecureLoopbackTransport is for the health check only: it talks to
// 127.0.0.1, where the certificate names the public host.
func InsecureLoopbackTransport() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // loopback health check
}

// Handler returns the HTTP handler (for in-process tests).
func (a *App) Handler() http.Handler { return a.engine }

// DB returns the database.
func (a *App) DB() *models.DB { return a.db }

// Sessions returns the sessions service.
func (a *App) Sessions() *services.Sessions { return a.sessions }

// Accounts returns the accounts service.
func (a *App) Accounts() *services.Accounts { return a.accounts }

// Tokens returns the access-token service.
func (a *App) Tokens() *services.Tokens { return a.tokens }

// Revocations returns the in-memory revocation set.
func (a *App) Revocations() *services.Revocations { return a.revoked }

// Hasher returns the bounded bcrypt runner.
func (a *App) Hasher() *services.Hasher { return a.hasher }

// Draining reports whether the instance is shutting down.
func (a *App) Draining() bool { return a.draining.Load() }

// RevocationFeed returns the LISTEN/NOTIFY feed of the revocation set (nil
// on SQLite).
func (a *App) RevocationFeed() *pgfeed.Feed { return a.feed }
