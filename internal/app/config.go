package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/ulule/limiter/v3"
)

// Config is every AUTHD_* setting, parsed and validated once at start.
// caarlos0/env was picked to parse it: struct tags with defaults, durations,
// lists and custom types, no global state, and a map of variables as input,
// so tests pass their own environment.
type Config struct {
	Addr        string `env:"AUTHD_ADDR" envDefault:":8080"`
	TLSCertFile string `env:"AUTHD_TLS_CERT_FILE"`
	TLSKeyFile  string `env:"AUTHD_TLS_KEY_FILE"`
	MetricsAddr string `env:"AUTHD_METRICS_ADDR"`
	// MetricsToken, when set, is the Bearer token that /metrics on the main
	// address needs; in production an empty one turns that route off.
	MetricsToken string `env:"AUTHD_METRICS_TOKEN"`

	DatabaseURL    string        `env:"AUTHD_DATABASE_URL"`
	SQLitePath     string        `env:"AUTHD_SQLITE_PATH" envDefault:"authd.db"`
	DBMaxOpenConns int           `env:"AUTHD_DB_MAX_OPEN_CONNS" envDefault:"20"`
	DBTimeout      time.Duration `env:"AUTHD_DB_TIMEOUT" envDefault:"5s"`
	DBLockTimeout  time.Duration `env:"AUTHD_DB_LOCK_TIMEOUT" envDefault:"3s"`
	RedisURL       string        `env:"AUTHD_REDIS_URL"`
	// DatabaseListenURL is the connection of the revocation feed (LISTEN),
	// for when AUTHD_DATABASE_URL goes through a pooler that cannot LISTEN,
	// such as PgBouncer in transaction mode. Empty: AUTHD_DATABASE_URL.
	DatabaseListenURL string `env:"AUTHD_DATABASE_LISTEN_URL"`

	Env               string `env:"AUTHD_ENV" envDefault:"development"`
	JWTAlg            string `env:"AUTHD_JWT_ALG" envDefault:"HS256"`
	JWTSecret         string `env:"AUTHD_JWT_SECRET"`
	JWTPrivateKeyFile string `env:"AUTHD_JWT_PRIVATE_KEY_FILE"`
	JWTIssuer         string `env:"AUTHD_JWT_ISSUER" envDefault:"authd"`
	JWTAudience       string `env:"AUTHD_JWT_AUDIENCE" envDefault:"authd"`

	AccessTTL     time.Duration `env:"AUTHD_ACCESS_TTL" envDefault:"15m"`
	RefreshTTL    time.Duration `env:"AUTHD_REFRESH_TTL" envDefault:"336h"`
	SessionMaxAge time.Duration `env:"AUTHD_SESSION_MAX_AGE" envDefault:"720h"`
	ReuseGrace    time.Duration `env:"AUTHD_REUSE_GRACE" envDefault:"10s"`

	PasswordMinLength int           `env:"AUTHD_PASSWORD_MIN_LENGTH" envDefault:"12"`
	MaxSessions       int           `env:"AUTHD_MAX_SESSIONS" envDefault:"20"`
	BcryptCost        int           `env:"AUTHD_BCRYPT_COST" envDefault:"12"`
	BcryptConcurrency int           `env:"AUTHD_BCRYPT_CONCURRENCY"` // 0: the number of CPUs
	BcryptWait        time.Duration `env:"AUTHD_BCRYPT_WAIT" envDefault:"2s"`
	// BcryptNice is the nice value of the bcrypt worker threads (Linux):
	// 19 lets every other thread on the host go first; 0 leaves them at
	// the process's own priority (docs/DESIGN.md, "bcrypt and the CPU").
	BcryptNice int `env:"AUTHD_BCRYPT_NICE" envDefault:"19"`
	// MemoryLimit is the Go runtime's soft memory limit (0: none); GOMEMLIMIT wins.
	MemoryLimit ByteSize `env:"AUTHD_MEMORY_LIMIT" envDefault:"32MiB"`

	RateLoginIP      Rates    `env:"AUTHD_RATE_LOGIN_IP" envDefault:"20-M"`
	RateLoginAccount Rates    `env:"AUTHD_RATE_LOGIN_ACCOUNT" envDefault:"5-M,50-H"`
	RateRefreshIP    Rates    `env:"AUTHD_RATE_REFRESH_IP" envDefault:"60-M"`
	RateRegisterIP   Rates    `env:"AUTHD_RATE_REGISTER_IP" envDefault:"10-H"`
	TrustedProxies   []string `env:"AUTHD_TRUSTED_PROXIES" envSeparator:","`

	// RateLoginDevice bounds the failed logins of one known device (a valid
	// device token), counted instead of the account's budget.
	RateLoginDevice Rates `env:"AUTHD_RATE_LOGIN_DEVICE" envDefault:"5-M,50-H"`
	// RateReauthSession bounds the failed password proofs of one signed-in
	// session (re-authentication, current password of a password change).
	RateReauthSession Rates `env:"AUTHD_RATE_REAUTH_SESSION" envDefault:"5-15M"`
	// DeviceTokenTTL is the lifetime of a device token.
	DeviceTokenTTL time.Duration `env:"AUTHD_DEVICE_TOKEN_TTL" envDefault:"2160h"`

	// RatePrefix starts every rate-limit key in Redis (one prefix per
	// deployment, or per test sharing a Redis).
	RatePrefix string `env:"AUTHD_RATE_PREFIX" envDefault:"authd:limiter"`
	// RateStoreTimeout bounds every Redis call of the limiter; past it the
	// in-process store answers (a hung Redis must not stall logins).
	RateStoreTimeout time.Duration `env:"AUTHD_RATE_STORE_TIMEOUT" envDefault:"75ms"`

	SignupEnabled bool     `env:"AUTHD_SIGNUP_ENABLED" envDefault:"true"`
	CookieSecure  bool     `env:"AUTHD_COOKIE_SECURE" envDefault:"true"`
	CORSOrigins   []string `env:"AUTHD_CORS_ORIGINS" envSeparator:","`

	LogLevel  string `env:"AUTHD_LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"AUTHD_LOG_FORMAT" envDefault:"json"`

	RequestTimeout  time.Duration `env:"AUTHD_REQUEST_TIMEOUT" envDefault:"10s"`
	ShutdownTimeout time.Duration `env:"AUTHD_SHUTDOWN_TIMEOUT" envDefault:"25s"`
	DrainDelay      time.Duration `env:"AUTHD_DRAIN_DELAY" envDefault:"0s"`

	// Retention: ended sessions are kept SessionRetention after they end;
	// security events forever unless EventRetention is set; the job runs
	// every RetentionInterval (0 turns it off).
	SessionRetention  time.Duration `env:"AUTHD_SESSION_RETENTION" envDefault:"720h"`
	EventRetention    time.Duration `env:"AUTHD_EVENT_RETENTION" envDefault:"0s"`
	RetentionInterval time.Duration `env:"AUTHD_RETENTION_INTERVAL" envDefault:"1h"`

	// Shared Signals transmitter (config_ssf.go).
	SSFConfig
	// Outbox, webhooks and new-device alerts (config_outbox.go).
	WebhookAllowPrivate bool          `env:"AUTHD_WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`
	WebhookTimeout      time.Duration `env:"AUTHD_WEBHOOK_TIMEOUT" envDefault:"10s"`
	WebhookRetryBase    time.Duration `env:"AUTHD_WEBHOOK_RETRY_BASE" envDefault:"5s"`
	OutboxWorkers       int           `env:"AUTHD_OUTBOX_WORKERS" envDefault:"20"`
	OutboxRescueAfter   time.Duration `env:"AUTHD_OUTBOX_RESCUE_AFTER" envDefault:"1m"`
	OutboxRate          float64       `env:"AUTHD_OUTBOX_RATE" envDefault:"50"`
	SMTPURL             string        `env:"AUTHD_SMTP_URL"`
	SMTPFrom            string        `env:"AUTHD_SMTP_FROM"`
	NewDeviceWindow     time.Duration `env:"AUTHD_NEW_DEVICE_WINDOW" envDefault:"2160h"`

	// DPoP (RFC 9449): the proof window, server nonces, and the client_ids
	// whose sessions must be bound to a key. PublicURL is the scheme and
	// host clients address authd by (proofs name it in htu; the issuer of
	// /.well-known/oauth-authorization-server; the /account link of the
	// new-device e-mails); empty: each request's own.
	DPoPMaxAge          time.Duration `env:"AUTHD_DPOP_MAX_AGE" envDefault:"60s"`
	DPoPNonce           bool          `env:"AUTHD_DPOP_NONCE" envDefault:"false"`
	DPoPRequiredClients []string      `env:"AUTHD_DPOP_REQUIRED_CLIENTS" envSeparator:","`
	PublicURL           string        `env:"AUTHD_PUBLIC_URL"`

	// Derived at load time.
	JWTSecretBytes []byte             `env:"-"`
	PrivateKey     ed25519.PrivateKey `env:"-"`
	// Warnings are printed at start (e.g. a generated development secret).
	Warnings []string `env:"-"`
}

// Rates is a comma-separated list of rates ("5-M,50-H"), each of which must
// hold. A rate is ulule/limiter's LIMIT-PERIOD (S, M, H or D), or
// LIMIT-NPERIOD for a window of N periods ("5-15M": five in 15 minutes),
// which ulule/limiter's parser does not know.
type Rates struct {
	Raw   string
	Rates []limiter.Rate
}

// UnmarshalText parses "5-M,50-H".
func (r *Rates) UnmarshalText(b []byte) error {
	r.Raw = strings.TrimSpace(string(b))
	r.Rates = nil
	for _, part := range strings.Split(r.Raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		rate, err := parseRate(part)
		if err != nil {
			return fmt.Errorf("rate %q: want LIMIT-PERIOD such as 5-M, 50-H or 5-15M", part)
		}
		r.Rates = append(r.Rates, rate)
	}
	if len(r.Rates) == 0 {
		return errors.New("no rate given")
	}
	return nil
}

// parseRate parses one rate: LIMIT-PERIOD, or LIMIT-NPERIOD for N periods.
func parseRate(s string) (limiter.Rate, error) {
	limit, period, ok := strings.Cut(s, "-")
	n := strings.IndexFunc(period, func(r rune) bool { return r < '0' || r > '9' })
	if !ok || n <= 0 {
		return limiter.NewRateFromFormatted(s)
	}
	mult, err := strconv.Atoi(period[:n])
	if err != nil || mult < 1 || mult > 1000 {
		return limiter.Rate{}, fmt.Errorf("rate %q: bad period multiple", s)
	}
	rate, err := limiter.NewRateFromFormatted(limit + "-" + period[n:])
	if err != nil {
		return limiter.Rate{}, err
	}
	rate.Formatted = s
	rate.Period *= time.Duration(mult)
	return rate, nil
}

// minSecretBytes is the shortest HS256 key accepted in production
// (RFC 7518 §3.2: a key at least as long as the hash output).
const minSecretBytes = 32

// Load reads the configuration from getenv in three steps: parse, a pure
// function of the environment; validate, which changes nothing and reports
// every problem at once, each naming its variable; and, only for a valid
// configuration, resolve, the one step with side effects (randomness, the
// file system, the CPU count).
func Load(getenv func(string) string) (Config, error) {
	cfg, err := parse(getenv)
	if err := joinProblems(err, cfg.validate()); err != nil {
		return cfg, err
	}
	if err := cfg.resolve(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// parse reads every AUTHD_* variable of getenv into a Config with its
// defaults. It depends on nothing but getenv. A variable that does not
// parse is a *configError, and keeps its field's zero value.
func parse(getenv func(string) string) (Config, error) {
	var cfg Config
	params, err := env.GetFieldParams(&cfg)
	if err != nil {
		return cfg, err
	}
	vars := make(map[string]string)
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			vars[p.Key] = v
		}
	}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		return cfg, explainEnvError(err, &cfg)
	}
	return cfg, nil
}

// configError is one problem of the configuration, naming its variable.
type configError struct {
	Var     string
	Problem string
}

func (e *configError) Error() string { return e.Var + ": " + e.Problem }

// explainEnvError rewrites the library's errors to name the variable.
func explainEnvError(err error, cfg *Config) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var errs []error
	t := reflect.TypeOf(*cfg)
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				errs = append(errs, &configError{Var: f.Tag.Get("env"), Problem: pe.Err.Error()})
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// joinProblems joins the problems of parsing and of validation. A variable
// that did not parse holds a zero value, so its validation problems would
// only repeat the parse problem, which says what is wrong: they are left out.
func joinProblems(parsed, validated error) error {
	failed := make(map[string]bool)
	errs := problemsOf(parsed)
	for _, e := range errs {
		var ce *configError
		if errors.As(e, &ce) {
			failed[ce.Var] = true
		}
	}
	for _, e := range problemsOf(validated) {
		var ce *configError
		if errors.As(e, &ce) && failed[ce.Var] {
			continue
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// problemsOf returns the errors that errors.Join joined into err.
func problemsOf(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// validate checks the parsed configuration and returns every problem at
// once (errors.Join of *configError, each naming its variable). It has no
// side effects: a value receiver, no I/O, no randomness; what needs those
// is resolve's.
func (c Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, &configError{Var: name, Problem: fmt.Sprintf(format, args...)})
	}
	switch c.Env {
	case "development", "production", "test":
	default:
		bad("AUTHD_ENV", "must be development or production (or test, for test suites), not %q", c.Env)
	}
	production := c.Env == "production"
	switch c.JWTAlg {
	case "HS256":
		switch {
		case c.JWTSecret == "" && production:
			bad("AUTHD_JWT_SECRET", "is required in production (at least %d random bytes)", minSecretBytes)
		case len(c.JWTSecret) < minSecretBytes && c.JWTSecret != "" && production:
			bad("AUTHD_JWT_SECRET", "is %d bytes; production needs at least %d", len(c.JWTSecret), minSecretBytes)
		}
	case "EdDSA":
		if c.JWTPrivateKeyFile == "" {
			bad("AUTHD_JWT_PRIVATE_KEY_FILE", "is required with AUTHD_JWT_ALG=EdDSA (create one with `authd keys generate`)")
		}
	default:
		bad("AUTHD_JWT_ALG", "must be HS256 or EdDSA, not %q", c.JWTAlg)
	}
	c.validateSSF(bad)
	c.validateOutbox(bad)
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("AUTHD_TLS_CERT_FILE", "and AUTHD_TLS_KEY_FILE must be set together")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("AUTHD_DATABASE_URL", "must be a postgres:// URL (leave it empty for the embedded SQLite file)")
		}
	}
	if c.DatabaseListenURL != "" {
		u, err := url.Parse(c.DatabaseListenURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || c.DatabaseURL == "" {
			bad("AUTHD_DATABASE_LISTEN_URL", "must be a postgres:// URL, and only with a PostgreSQL AUTHD_DATABASE_URL")
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			bad("AUTHD_REDIS_URL", "must be a redis:// or rediss:// URL")
		}
	}
	positive := map[string]time.Duration{
		"AUTHD_ACCESS_TTL": c.AccessTTL, "AUTHD_REFRESH_TTL": c.RefreshTTL, "AUTHD_SESSION_MAX_AGE": c.SessionMaxAge,
		"AUTHD_DB_TIMEOUT": c.DBTimeout, "AUTHD_BCRYPT_WAIT": c.BcryptWait, "AUTHD_SHUTDOWN_TIMEOUT": c.ShutdownTimeout,
		"AUTHD_REQUEST_TIMEOUT": c.RequestTimeout, "AUTHD_DB_LOCK_TIMEOUT": c.DBLockTimeout,
		"AUTHD_DEVICE_TOKEN_TTL": c.DeviceTokenTTL,
	}
	for name, d := range positive {
		if d <= 0 {
			bad(name, "must be a positive duration such as 15m")
		}
	}
	if c.ReuseGrace < 0 || c.DrainDelay < 0 {
		bad("AUTHD_REUSE_GRACE", "and AUTHD_DRAIN_DELAY must not be negative")
	}
	minCost := 10
	if c.Env == "test" {
		// Test suites only: a low cost keeps thousands of logins fast.
		minCost = 4
	}
	if c.BcryptCost < minCost || c.BcryptCost > 31 {
		bad("AUTHD_BCRYPT_COST", "must be between 10 and 31 (ASVS asks for at least 10), not %d", c.BcryptCost)
	}
	if c.BcryptConcurrency < 0 {
		bad("AUTHD_BCRYPT_CONCURRENCY", "must not be negative")
	}
	if c.BcryptNice < 0 || c.BcryptNice > 19 {
		bad("AUTHD_BCRYPT_NICE", "must be between 0 (the process's priority) and 19 (the lowest), not %d", c.BcryptNice)
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < minMemoryLimit {
		bad("AUTHD_MEMORY_LIMIT", "must be 0 (no limit) or at least 16MiB, not %d bytes", int64(c.MemoryLimit))
	}
	if c.PasswordMinLength < 8 || c.PasswordMinLength > 64 {
		bad("AUTHD_PASSWORD_MIN_LENGTH", "must be between 8 and 64, not %d", c.PasswordMinLength)
	}
	if c.MaxSessions < 1 {
		bad("AUTHD_MAX_SESSIONS", "must be at least 1")
	}
	if c.DBMaxOpenConns < 1 {
		bad("AUTHD_DB_MAX_OPEN_CONNS", "must be at least 1")
	}
	if c.RateStoreTimeout <= 0 || c.RateStoreTimeout > time.Second {
		bad("AUTHD_RATE_STORE_TIMEOUT", "must be a duration between 1ms and 1s (50ms to 100ms suits a local Redis), not %s", c.RateStoreTimeout)
	}
	if strings.TrimSpace(c.RatePrefix) == "" || strings.ContainsAny(c.RatePrefix, " \t\r\n*?[]") {
		bad("AUTHD_RATE_PREFIX", "must be a non-empty key prefix without spaces or glob characters")
	}
	for _, p := range c.TrustedProxies {
		p = strings.TrimSpace(p)
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("AUTHD_TRUSTED_PROXIES", "%q is neither a CIDR nor an address", p)
			}
		}
	}
	for _, o := range c.CORSOrigins {
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("AUTHD_CORS_ORIGINS", "%q is not an origin such as https://app.example.com", o)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("AUTHD_LOG_LEVEL", "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("AUTHD_LOG_FORMAT", "must be json or text")
	}
	if c.RetentionInterval < 0 || c.EventRetention < 0 {
		bad("AUTHD_RETENTION_INTERVAL", "and AUTHD_EVENT_RETENTION must not be negative")
	}
	// A revoked session must outlive the access tokens it issued: an
	// instance that starts loads its revocation set from the sessions
	// table, and a deleted row would let a live access token through.
	if c.SessionRetention < c.AccessTTL {
		bad("AUTHD_SESSION_RETENTION", "must be at least AUTHD_ACCESS_TTL (%s), not %s", c.AccessTTL, c.SessionRetention)
	}
	if c.DPoPMaxAge < time.Second || c.DPoPMaxAge > 10*time.Minute {
		bad("AUTHD_DPOP_MAX_AGE", "must be between 1s and 10m, not %s", c.DPoPMaxAge)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" {
			bad("AUTHD_PUBLIC_URL", "%q is not a base URL such as https://auth.example.com", c.PublicURL)
		}
	}
	return errors.Join(errs...)
}

// resolve derives, from a valid configuration, what validation must not
// touch: the HS256 key (a random one, with a warning, in development
// without AUTHD_JWT_SECRET), the Ed25519 key read from its file, and the
// bcrypt concurrency of this machine when none is set.
func (c *Config) resolve() error {
	switch c.JWTAlg {
	case "HS256":
		switch {
		case c.JWTSecret == "":
			secret := make([]byte, minSecretBytes)
			if _, err := rand.Read(secret); err != nil {
				return fmt.Errorf("AUTHD_JWT_SECRET: generate a development secret: %w", err)
			}
			c.JWTSecretBytes = secret
			c.Warnings = append(c.Warnings, "AUTHD_JWT_SECRET is not set: using a random secret, so tokens die with this process and other instances reject them (development only)")
		default:
			if len(c.JWTSecret) < minSecretBytes {
				c.Warnings = append(c.Warnings, fmt.Sprintf("AUTHD_JWT_SECRET is shorter than %d bytes: production refuses it", minSecretBytes))
			}
			c.JWTSecretBytes = []byte(c.JWTSecret)
		}
	case "EdDSA":
		key, err := readPrivateKey(c.JWTPrivateKeyFile)
		if err != nil {
			return &configError{Var: "AUTHD_JWT_PRIVATE_KEY_FILE", Problem: err.Error()}
		}
		c.PrivateKey = key
	}
	for i, id := range c.DPoPRequiredClients {
		c.DPoPRequiredClients[i] = strings.TrimSpace(id)
	}
	if c.BcryptConcurrency == 0 {
		c.BcryptConcurrency = runtime.NumCPU()
	}
	return nil
}

// readPrivateKey reads an Ed25519 private key in PKCS #8 PEM.
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" (create one with `authd keys generate`)")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("not an Ed25519 key")
	}
	return ed, nil
}

// minMemoryLimit is the smallest AUTHD_MEMORY_LIMIT: authd's live heap is
// about 10 MiB under load, and a limit near it would make the GC run
// continuously.
const minMemoryLimit = 16 << 20

// ByteSize is a size in bytes written as GOMEMLIMIT writes it: a whole
// number with an optional unit B, KiB, MiB or GiB ("32MiB", "0").
type ByteSize int64

// UnmarshalText parses s.
func (b *ByteSize) UnmarshalText(s []byte) error {
	text := strings.TrimSpace(string(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(text, u.suffix); ok {
			text, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size such as 32MiB (units B, KiB, MiB, GiB)", string(s))
	}
	*b = ByteSize(n * mult)
	return nil
}

// String describes the configuration with every secret masked.
func (c Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "***"
	}
	return fmt.Sprintf("addr=%s env=%s db=%s redis=%s jwt_alg=%s jwt_secret=%s access_ttl=%s refresh_ttl=%s max_age=%s grace=%s bcrypt_cost=%d",
		c.Addr, c.Env, redactURL(c.DatabaseURL, c.SQLitePath), mask(c.RedisURL), c.JWTAlg, mask(c.JWTSecret),
		c.AccessTTL, c.RefreshTTL, c.SessionMaxAge, c.ReuseGrace, c.BcryptCost)
}

func redactURL(u, sqlitePath string) string {
	if u == "" {
		return "sqlite:" + sqlitePath
	}
	p, err := url.Parse(u)
	if err != nil {
		return "***"
	}
	return p.Redacted()
}
