package middleware

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"log/slog"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/ulule/limiter/v3"

	"github.com/authd/authd/metrics"
	"github.com/authd/authd/services"
	"github.com/authd/authd/services/device"
)

// RateLimitRecorder records a rate_limited security event
// (*services.RateLimitEvents).
type RateLimitRecorder interface {
	RecordRateLimited(ctx context.Context, l services.RateLimited) error
}

// RateLimits applies authd's rate limits with ulule/limiter: per client
// address on login, refresh and register; and, counting failed password
// proofs only, per account and per known device on login and per session on
// re-authentication and password change. It does not use ulule's gin middleware, whose default
// error handler panics on a store error (F7); the store it gets is expected
// to fall back rather than fail (internal/platform/ratelimit.Store), and a store
// error that still arrives is a 503, never a 500 and never a pass.
//
// Counter keys hold no raw email or address: each is a keyed hash, so a
// look at Redis tells nothing about who tried what.
type RateLimits struct {
	store  limiter.Store
	secret []byte
	events RateLimitRecorder
	log    *slog.Logger
	now    func() time.Time
	// macs pools HMACs keyed with secret: a new one per request was three
	// allocations on every limited route.
	macs sync.Pool
}

// NewRateLimits returns a RateLimits on store. secret keys the hashes of
// addresses and emails in counter keys; it must be the same on every
// instance that shares the store. events (may be nil) receives one
// rate_limited event per key and window.
func NewRateLimits(store limiter.Store, secret []byte, events RateLimitRecorder, log *slog.Logger) *RateLimits {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Derive a key of its own so the hashes say nothing about the secret's
	// other uses.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("authd rate-limit keys v1"))
	l := &RateLimits{store: store, secret: m.Sum(nil), events: events, log: log, now: time.Now}
	l.macs.New = func() any { return hmac.New(sha256.New, l.secret) }
	return l
}

// rateLimitKey holds the tightest limit already reported on this request, so
// that a later, looser check does not overwrite the headers.
const rateLimitKey = "authd.ratelimit"

// PerAddress returns middleware that spends one unit of the budget named
// name (e.g. "login_ip") for the client address, before anything else of the
// request runs, and answers 429 rate_limited once any of rates is spent.
// The address is gin's ClientIP: the TCP peer unless that peer is a trusted
// proxy (F6). IPv6 clients are counted per /64, since one host usually owns
// a whole /64 and could otherwise rotate through it.
func (l *RateLimits) PerAddress(name string, rates []limiter.Rate) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := l.hash("address", rateAddress(c.ClientIP()))
		err := l.check(c, name, id, rates, services.RateLimited{}, spend)
		if err != nil {
			_ = c.Error(err)
			c.Abort()
			return
		}
		c.Next()
	}
}

// FailureLimit is a budget of failed password proofs for one kind of
// subject: an email (login_account), a device token (login_device) or a
// session (reauth_session). Check only looks at the counters, so that a
// correct password never spends the budget and the owner still gets in while
// an attacker's failures fill it; Fail counts one failed proof. A caller
// checks before any bcrypt work and counts after a wrong password.
type FailureLimit struct {
	l     *RateLimits
	name  string
	kind  string
	rates []limiter.Rate
}

// PerAccount returns the failures-only budget named name per email, for the
// login handler. It counts every email, whether or not an account has it,
// and answers the same for both (RL-03): an unknown email must not be told
// apart by its 429.
func (l *RateLimits) PerAccount(name string, rates []limiter.Rate) *FailureLimit {
	return &FailureLimit{l: l, name: name, kind: "account", rates: rates}
}

// PerDevice returns the failures-only budget named name per device token
// (its id), for logins that present a valid device token of the account.
func (l *RateLimits) PerDevice(name string, rates []limiter.Rate) *FailureLimit {
	return &FailureLimit{l: l, name: name, kind: "device", rates: rates}
}

// PerSession returns the failures-only budget named name per session, for
// the password proofs of a signed-in session (re-authentication, the
// current password of a password change).
func (l *RateLimits) PerSession(name string, rates []limiter.Rate) *FailureLimit {
	return &FailureLimit{l: l, name: name, kind: "session", rates: rates}
}

// Check answers rate_limited (with Retry-After) when the budget of subject
// is spent, without counting. user, when known, names the account in the
// rate_limited event.
func (f *FailureLimit) Check(c *gin.Context, subject string, user uuid.UUID) error {
	id, ev := f.key(subject, user)
	return f.l.check(c, f.name, id, f.rates, ev, peek)
}

// Fail counts one failed password proof of subject. The proof has already
// failed, so a store error is logged and not returned: the answer stays
// invalid_credentials (and the store falls back rather than fail).
func (f *FailureLimit) Fail(c *gin.Context, subject string) {
	id, _ := f.key(subject, uuid.Nil)
	ctx := c.Request.Context()
	for _, rate := range f.rates {
		lc, err := f.l.store.Increment(ctx, f.name+":"+rate.Formatted+":"+id, 1, rate)
		if err != nil {
			f.l.log.Error("rate limiter store failed", slog.String("limit", f.name), slog.String("error", err.Error()))
			return
		}
		f.l.setHeaders(c, lc)
	}
}

func (f *FailureLimit) key(subject string, user uuid.UUID) (string, services.RateLimited) {
	if f.kind != "account" {
		hash := f.l.hash(f.kind, subject)
		ev := services.RateLimited{Key: f.kind + ":" + hash[:16]}
		if sid, err := uuid.Parse(subject); err == nil && f.kind == "session" {
			ev.Key, ev.SessionID = "session:"+sid.String(), &sid
		}
		if user != uuid.Nil {
			ev.UserID = &user
		}
		return hash, ev
	}
	normalized, err := services.NormalizeEmail(subject)
	if err != nil {
		normalized = strings.ToLower(strings.TrimSpace(subject))
	}
	hash := f.l.hash("account", normalized)
	ev := services.RateLimited{EmailHash: hash[:16]}
	if err == nil {
		ev.Email = normalized
	}
	return hash, ev
}

// counterOp reads (and maybe counts) one counter.
type counterOp func(ctx context.Context, st limiter.Store, key string, rate limiter.Rate) (limiter.Context, error)

// spend counts one unit and returns the state after it.
func spend(ctx context.Context, st limiter.Store, key string, rate limiter.Rate) (limiter.Context, error) {
	return st.Get(ctx, key, rate)
}

// peek returns the state without counting. Nothing is counted for this
// request, so the budget is spent once the count has reached the limit
// (limiter's Reached means "past it", which only a counting call can be).
func peek(ctx context.Context, st limiter.Store, key string, rate limiter.Rate) (limiter.Context, error) {
	lc, err := st.Peek(ctx, key, rate)
	if err == nil && lc.Remaining <= 0 {
		lc.Reached = true
	}
	return lc, err
}

// errRateLimited has one fixed detail, so limited answers cannot differ
// between accounts.
var errRateLimited = services.Errorf(services.CodeRateLimited, "Too many attempts; wait for the time given in Retry-After.")

var errLimiterStore = services.Errorf(services.CodeUnavailable, "The rate limiter is unavailable; try again shortly.")

// check applies op (spend or peek) to every rate for id and sets the
// rate-limit headers from the tightest one. It returns errRateLimited when
// any rate is spent.
func (l *RateLimits) check(c *gin.Context, name, id string, rates []limiter.Rate, ev services.RateLimited, op counterOp) error {
	ctx := c.Request.Context()
	var (
		tight     limiter.Context
		tightRate limiter.Rate
	)
	for i, rate := range rates {
		lc, err := op(ctx, l.store, name+":"+rate.Formatted+":"+id, rate)
		if err != nil {
			l.log.Error("rate limiter store failed", slog.String("limit", name), slog.String("error", err.Error()))
			return errLimiterStore
		}
		if i == 0 || tighter(lc, tight) {
			tight, tightRate = lc, rate
		}
	}
	if len(rates) == 0 {
		return nil
	}
	l.setHeaders(c, tight)
	if !tight.Reached {
		return nil
	}
	// Reset is in whole seconds, rounded down: one more second keeps a
	// client that obeys Retry-After from coming back a moment too early.
	retry := tight.Reset - l.now().Unix() + 1
	if retry < 1 {
		retry = 1
	}
	c.Header("Retry-After", strconv.FormatInt(retry, 10))
	endpoint := path.Base(c.FullPath())
	metrics.RateLimited.WithLabelValues(endpoint).Inc()
	if endpoint == "login" {
		// A refused login never reaches the password check, where the
		// other login results are counted.
		metrics.Logins.WithLabelValues("rate_limited").Inc()
	}
	l.recordOnce(c, name, id, tightRate, time.Duration(retry)*time.Second, endpoint, ev)
	return errRateLimited
}

// tighter reports whether a binds harder than b: spent before unspent; among
// spent ones the one that lasts longer; otherwise the fewer remaining.
func tighter(a, b limiter.Context) bool {
	switch {
	case a.Reached != b.Reached:
		return a.Reached
	case a.Reached:
		return a.Reset > b.Reset
	case a.Remaining != b.Remaining:
		return a.Remaining < b.Remaining
	default:
		return a.Reset > b.Reset
	}
}

// setHeaders reports lc unless an earlier check of this request reported a
// tighter limit.
func (l *RateLimits) setHeaders(c *gin.Context, lc limiter.Context) {
	if prev, ok := c.Get(rateLimitKey); ok {
		if p, ok := prev.(limiter.Context); ok && !tighter(lc, p) {
			return
		}
	}
	c.Set(rateLimitKey, lc)
	// Header.Set under the canonical names, without its per-call copy of
	// each name.
	h := c.Writer.Header()
	h["X-Ratelimit-Limit"] = []string{strconv.FormatInt(lc.Limit, 10)}
	h["X-Ratelimit-Remaining"] = []string{strconv.FormatInt(lc.Remaining, 10)}
	h["X-Ratelimit-Reset"] = []string{strconv.FormatInt(lc.Reset, 10)}
}

// recordOnce records a rate_limited event for the first limited request of
// a key in its window: a one-unit budget in the same store, lasting until
// the limit resets, decides which request that is, so with Redis it is one
// event across all instances however many requests are refused (RL-06).
func (l *RateLimits) recordOnce(c *gin.Context, name, id string, rate limiter.Rate, window time.Duration, endpoint string, ev services.RateLimited) {
	if l.events == nil {
		return
	}
	ctx := c.Request.Context()
	once := limiter.Rate{Formatted: "1-event", Limit: 1, Period: window}
	lc, err := l.store.Get(ctx, "event:"+name+":"+id, once)
	if err != nil || lc.Reached {
		return
	}
	ev.Limit, ev.Endpoint, ev.Rate = name, endpoint, rate.Formatted
	ev.Meta = services.Meta{
		IPPrefix:  device.PrefixString(c.ClientIP()),
		UserAgent: device.CleanUserAgent(c.GetHeader("User-Agent")),
	}
	if err := l.events.RecordRateLimited(ctx, ev); err != nil {
		// The 429 stands; only its record is lost.
		l.log.Warn("record rate_limited event", slog.String("limit", name), slog.String("error", err.Error()))
	}
}

// hash is the keyed hash of a counter's subject, in hex.
func (l *RateLimits) hash(kind, subject string) string {
	m := l.macs.Get().(hash.Hash)
	defer l.macs.Put(m)
	m.Reset()
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(subject))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:16])
}

// rateAddress is the unit an address is counted in: the address for IPv4,
// its /64 for IPv6.
func rateAddress(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}
