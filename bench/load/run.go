package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Scenarios the runner knows.
const (
	ScenarioRefresh = "refresh" // chained refresh rotation
	ScenarioMe      = "me"      // GET /v1/me with one access token per device
	ScenarioLogin   = "login"   // password sign-in (bcrypt bound)
	ScenarioMixed   = "mixed"   // 1 login : 10 refresh : 39 me per 50 requests
	ScenarioBcrypt  = "bcrypt"  // raw bcrypt comparisons, no HTTP (the login baseline)
)

// Hard bounds: the tool always stops by itself.
const (
	MaxDuration    = 10 * time.Minute
	MaxRequestsCap = 10_000_000
	MaxWorkers     = 1024
)

// Config describes one run.
type Config struct {
	Targets *Targets
	// AuthTargets is where devices sign in (nil: Targets). The bare /v1/me
	// baseline gets its access tokens from authd this way.
	AuthTargets *Targets
	Scenario    string
	Workers     int // simulated devices, one goroutine each
	Users       int // accounts the devices sign in as (0: Workers)
	Duration    time.Duration
	MaxRequests int64 // 0: MaxRequestsCap
	// EmailPrefix names the accounts (bench-<prefix>-<i>@example.com) and
	// Password is theirs; existing accounts are reused.
	EmailPrefix string
	Password    string
	HTTP        *http.Client
	// MaxBackoff bounds the pause before retrying after a 429, 503 or a
	// transport error (the same token is presented again).
	MaxBackoff time.Duration
	// BcryptCost is the cost of the bcrypt scenario.
	BcryptCost int
	// API is the protocol of the targets: APIAuthd (default) or APIGoTrue
	// (supabase/auth, for the comparison on the same machine).
	API string
	// Ready, when set, is called once between the set-up (sign-ups and
	// sign-ins, bcrypt-bound) and the measured phase; the phase starts when
	// it returns nil. A caller measuring the server's CPU per request starts
	// its counters there, so the set-up's password hashing is not charged to
	// the requests.
	Ready func(context.Context) error
	// Observe, when set, receives every reply of the measured phase with the
	// refresh token the request presented (from worker goroutines).
	Observe func(worker int, tokenIn string, r Reply)
}

// DefaultPassword passes authd's password policy.
const DefaultPassword = "bench horse battery staple 77"

func (c *Config) defaults() error {
	switch c.Scenario {
	case ScenarioRefresh, ScenarioMe, ScenarioLogin, ScenarioMixed, ScenarioBcrypt:
	default:
		return fmt.Errorf("unknown scenario %q (refresh, me, login, mixed, bcrypt)", c.Scenario)
	}
	if c.Workers < 1 || c.Workers > MaxWorkers {
		return fmt.Errorf("workers must be between 1 and %d", MaxWorkers)
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		return fmt.Errorf("duration must be positive and at most %s", MaxDuration)
	}
	if c.MaxRequests <= 0 || c.MaxRequests > MaxRequestsCap {
		c.MaxRequests = MaxRequestsCap
	}
	if c.Users <= 0 {
		c.Users = c.Workers
	}
	switch c.API {
	case "":
		c.API = APIAuthd
	case APIAuthd, APIGoTrue:
	default:
		return fmt.Errorf("unknown API %q (authd, gotrue)", c.API)
	}
	if c.Password == "" {
		c.Password = DefaultPassword
	}
	if c.EmailPrefix == "" {
		c.EmailPrefix = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 100 * time.Millisecond
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = 12
	}
	if c.Scenario == ScenarioBcrypt {
		return nil
	}
	if c.Targets == nil {
		return errors.New("no target URL")
	}
	if c.AuthTargets == nil {
		c.AuthTargets = c.Targets
	}
	if c.HTTP == nil {
		c.HTTP = NewHTTPClient(c.Workers)
	}
	return nil
}

// Email returns the address of account i.
func (c *Config) Email(i int) string {
	return fmt.Sprintf("bench-%s-%d@example.com", c.EmailPrefix, i)
}

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// OpResult is the result of one kind of request.
type OpResult struct {
	Requests    int64            `json:"requests"`
	OK          int64            `json:"ok"`
	PerSecond   float64          `json:"ok_per_second"`
	Latency     Latency          `json:"latency"`
	Statuses    map[string]int64 `json:"statuses"`
	latencies   []time.Duration
	totalMicros int64
}

// Result is what a run measured.
type Result struct {
	Scenario string               `json:"scenario"`
	URLs     []string             `json:"urls,omitempty"`
	Workers  int                  `json:"workers"`
	Users    int                  `json:"users"`
	Seconds  float64              `json:"duration_s"`
	Requests int64                `json:"requests"`
	OK       int64                `json:"ok"`
	RPS      float64              `json:"requests_per_second"`
	OKPerSec float64              `json:"ok_per_second"`
	Latency  Latency              `json:"latency"`
	Statuses map[string]int64     `json:"statuses"`
	Ops      map[string]*OpResult `json:"ops"`
	// Unexpected401 counts 401 answers a well-behaved chained client should
	// never see (a lost or forked rotation, or a valid access token refused).
	Unexpected401 int64 `json:"unexpected_401"`
	// ServerErrors counts 5xx other than 503 (never acceptable).
	ServerErrors int64 `json:"server_errors"`
}

// recorder collects the replies of one worker.
type recorder struct {
	ops map[string]*OpResult
}

func (r *recorder) add(rep Reply) {
	if r.ops == nil {
		r.ops = make(map[string]*OpResult)
	}
	o := r.ops[rep.Op]
	if o == nil {
		o = &OpResult{Statuses: make(map[string]int64), latencies: make([]time.Duration, 0, 4096)}
		r.ops[rep.Op] = o
	}
	o.Requests++
	if rep.Status >= 200 && rep.Status < 300 {
		o.OK++
	}
	o.Statuses[rep.Key()]++
	o.latencies = append(o.latencies, rep.Latency)
	o.totalMicros += rep.Latency.Microseconds()
}

// device is one simulated device: its account and current tokens.
type device struct {
	user    int
	access  string
	refresh string
}

// Run sets up the accounts and devices (not measured), then drives the
// scenario for Duration or MaxRequests requests, whichever comes first.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if cfg.Scenario == ScenarioBcrypt {
		return runBcrypt(ctx, cfg)
	}
	cl := &Client{HTTP: cfg.HTTP, API: cfg.API}
	if err := setupAccounts(ctx, cfg, cl); err != nil {
		return nil, err
	}
	devs := make([]*device, cfg.Workers)
	if cfg.Scenario != ScenarioLogin {
		if err := parallel(ctx, cfg.Workers, cfg.Workers, func(i int) error {
			d := &device{user: i % cfg.Users}
			if err := signIn(ctx, cfg, cl, d); err != nil {
				return err
			}
			devs[i] = d
			return nil
		}); err != nil {
			return nil, err
		}
	} else {
		for i := range devs {
			devs[i] = &device{user: i % cfg.Users}
		}
	}

	if cfg.Ready != nil {
		if err := cfg.Ready(ctx); err != nil {
			return nil, err
		}
	}
	var sent atomic.Int64
	recs := make([]recorder, cfg.Workers)
	var unexpected, serverErrs atomic.Int64
	deadline := time.Now().Add(cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			d, rec := devs[w], &recs[w]
			for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
				if sent.Add(1) > cfg.MaxRequests {
					return
				}
				op := cfg.Scenario
				if op == ScenarioMixed {
					switch {
					case i%50 == 49:
						op = ScenarioLogin
					case i%5 == 0:
						op = ScenarioRefresh
					default:
						op = ScenarioMe
					}
				}
				var rep Reply
				var tokenIn string
				switch op {
				case ScenarioRefresh:
					tokenIn = d.refresh
					rep = cl.Refresh(ctx, cfg.Targets.Next(), tokenIn)
					if rep.Status == http.StatusOK {
						d.refresh, d.access = rep.Tokens.RefreshToken, rep.Tokens.AccessToken
					}
				case ScenarioMe:
					rep = cl.Me(ctx, cfg.Targets.Next(), d.access)
				case ScenarioLogin:
					d.user = (w + i*cfg.Workers) % cfg.Users
					rep = cl.Login(ctx, cfg.Targets.Next(), cfg.Email(d.user), cfg.Password)
					if rep.Status == http.StatusOK {
						d.refresh, d.access = rep.Tokens.RefreshToken, rep.Tokens.AccessToken
					}
				}
				if ctx.Err() != nil && rep.Status == 0 {
					return // cut by the caller, not a result
				}
				rec.add(rep)
				if cfg.Observe != nil {
					cfg.Observe(w, tokenIn, rep)
				}
				switch {
				case rep.Refused:
					unexpected.Add(1)
					// The chain is broken: sign in again to keep loading.
					if op != ScenarioLogin {
						if err := signIn(ctx, cfg, cl, d); err != nil {
							return
						}
					}
				case rep.Status >= 500 && rep.Status != http.StatusServiceUnavailable:
					serverErrs.Add(1)
				case rep.Status == 0 || rep.Status == http.StatusServiceUnavailable || rep.Status == http.StatusTooManyRequests:
					backoff(ctx, rep.RetryAfter, cfg.MaxBackoff)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := summarize(cfg, recs, elapsed)
	res.URLs = cfg.Targets.All()
	res.Unexpected401 = unexpected.Load()
	res.ServerErrors = serverErrs.Load()
	return res, nil
}

func backoff(ctx context.Context, retryAfter string, max time.Duration) {
	d := max
	if s, err := strconv.Atoi(retryAfter); err == nil && time.Duration(s)*time.Second < d {
		d = time.Duration(s) * time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// setupAccounts registers the accounts (existing ones are fine).
func setupAccounts(ctx context.Context, cfg Config, cl *Client) error {
	return parallel(ctx, cfg.Users, cfg.Workers, func(i int) error {
		for attempt := 0; ; attempt++ {
			r := cl.Register(ctx, cfg.AuthTargets.Next(), cfg.Email(i), cfg.Password)
			switch {
			case r.Registered():
				return nil
			case attempt < 20 && (r.Status == 0 || r.Status == 503 || r.Status == 429):
				backoff(ctx, r.RetryAfter, time.Second)
			default:
				return fmt.Errorf("register account %d: %s %s", i, r.Key(), r.Body)
			}
		}
	})
}

// signIn gives d a fresh session.
func signIn(ctx context.Context, cfg Config, cl *Client, d *device) error {
	// A busy server answers a sign-in with 503 or 429 and Retry-After; the
	// sign-ins are set-up, not the measurement, so they are retried for up
	// to two minutes (bcrypt runs at the lowest priority: beside a
	// CPU-heavy process one sign-in at cost 12 can take seconds).
	giveUp := time.Now().Add(2 * time.Minute)
	for {
		r := cl.Login(ctx, cfg.AuthTargets.Next(), cfg.Email(d.user), cfg.Password)
		switch {
		case r.Status == http.StatusOK:
			d.access, d.refresh = r.Tokens.AccessToken, r.Tokens.RefreshToken
			return nil
		case time.Now().Before(giveUp) && ctx.Err() == nil && (r.Status == 0 || r.Status == 503 || r.Status == 429):
			backoff(ctx, r.RetryAfter, time.Second)
		default:
			return fmt.Errorf("sign in: %s %s", r.Key(), r.Body)
		}
	}
}

// parallel runs fn(0..n-1) on at most width goroutines and returns the
// first error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	var (
		next    atomic.Int64
		firstMu sync.Mutex
		first   error
		wg      sync.WaitGroup
	)
	for g := 0; g < width && g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					firstMu.Lock()
					if first == nil {
						first = err
					}
					firstMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func summarize(cfg Config, recs []recorder, elapsed time.Duration) *Result {
	res := &Result{Scenario: cfg.Scenario, Workers: cfg.Workers, Users: cfg.Users, Seconds: elapsed.Seconds(),
		Statuses: make(map[string]int64), Ops: make(map[string]*OpResult)}
	var all []time.Duration
	var totalMicros int64
	for _, rec := range recs {
		for name, o := range rec.ops {
			agg := res.Ops[name]
			if agg == nil {
				agg = &OpResult{Statuses: make(map[string]int64)}
				res.Ops[name] = agg
			}
			agg.Requests += o.Requests
			agg.OK += o.OK
			agg.totalMicros += o.totalMicros
			agg.latencies = append(agg.latencies, o.latencies...)
			for k, v := range o.Statuses {
				agg.Statuses[k] += v
				res.Statuses[k] += v
			}
		}
	}
	for _, o := range res.Ops {
		o.PerSecond = float64(o.OK) / elapsed.Seconds()
		o.Latency = summarizeLatency(o.latencies, o.totalMicros)
		res.Requests += o.Requests
		res.OK += o.OK
		totalMicros += o.totalMicros
		all = append(all, o.latencies...)
	}
	res.RPS = float64(res.Requests) / elapsed.Seconds()
	res.OKPerSec = float64(res.OK) / elapsed.Seconds()
	res.Latency = summarizeLatency(all, totalMicros)
	return res
}

func summarizeLatency(ls []time.Duration, totalMicros int64) Latency {
	if len(ls) == 0 {
		return Latency{}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	q := func(p float64) float64 {
		i := int(p*float64(len(ls))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(ls) {
			i = len(ls) - 1
		}
		return ms(ls[i])
	}
	return Latency{P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: ms(ls[len(ls)-1]),
		Mean: float64(totalMicros) / float64(len(ls)) / 1000}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// runBcrypt is the login baseline: Workers goroutines comparing a correct
// password against a hash at BcryptCost, with nothing else around it.
func runBcrypt(ctx context.Context, cfg Config) (*Result, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(cfg.Password), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	var sent atomic.Int64
	recs := make([]recorder, cfg.Workers)
	deadline := time.Now().Add(cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func(rec *recorder) {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) && sent.Add(1) <= cfg.MaxRequests {
				t := time.Now()
				err := bcrypt.CompareHashAndPassword(hash, []byte(cfg.Password))
				rep := Reply{Op: ScenarioBcrypt, Status: http.StatusOK, Latency: time.Since(t)}
				if err != nil {
					rep.Status, rep.Code = http.StatusInternalServerError, "mismatch"
				}
				rec.add(rep)
			}
		}(&recs[w])
	}
	wg.Wait()
	return summarize(cfg, recs, time.Since(start)), nil
}
