// Command authd-bench drives running authd instances on this machine with
// simulated devices and prints throughput, latency percentiles and errors
// by status and code (JSON with -json). It only targets loopback URLs and
// always stops by itself (-duration, -requests, both capped).
//
//	authd-bench -url http://127.0.0.1:8080 -scenario refresh -workers 16 -duration 15s
//	authd-bench -url http://127.0.0.1:8081,http://127.0.0.1:8082 -scenario mixed   # round-robin
//	authd-bench -scenario bcrypt -bcrypt-cost 12 -workers 16 -duration 15s        # login baseline
//	authd-bench -baseline-me -listen 127.0.0.1:0                                  # /v1/me baseline server
//
// Scenarios: refresh (each device presents the refresh token of its last
// response), me (GET /v1/me with the device's access token), login
// (password sign-in), mixed (per 50 requests of a device: 1 login, 10
// refreshes, 39 /v1/me), bcrypt (raw bcrypt comparisons, no HTTP).
//
// Exit status 3 when a chained client saw an unexpected 401 or a 5xx other
// than 503.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/authd/authd/bench/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "authd-bench: %v\n", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("authd-bench", flag.ContinueOnError)
	var (
		urls        = fs.String("url", "http://127.0.0.1:8080", "comma-separated base URLs of authd instances (loopback only), used round-robin")
		authURL     = fs.String("auth-url", "", "comma-separated base URLs where devices sign in (default: -url); for the bare /v1/me baseline")
		scenario    = fs.String("scenario", "refresh", "refresh, me, login, mixed or bcrypt")
		workers     = fs.Int("workers", 16, "simulated devices (concurrent clients)")
		users       = fs.Int("users", 0, "accounts the devices sign in as (default: -workers)")
		duration    = fs.Duration("duration", 15*time.Second, "measured phase, at most 10m")
		requests    = fs.Int64("requests", 0, "stop after this many requests (default and cap: 10,000,000)")
		asJSON      = fs.Bool("json", false, "print the result as JSON")
		prefix      = fs.String("email-prefix", "", "account names bench-<prefix>-<i>@example.com (default: unique per run)")
		bcryptCost  = fs.Int("bcrypt-cost", 12, "bcrypt cost of -scenario bcrypt (authd's AUTHD_BCRYPT_COST)")
		baselineMe  = fs.Bool("baseline-me", false, "serve the bare /v1/me baseline (JWT verification only) instead of driving load")
		listen      = fs.String("listen", "127.0.0.1:0", "address of -baseline-me (loopback only)")
		maxLifetime = fs.Duration("lifetime", 10*time.Minute, "-baseline-me exits after this long")
		revoked     = fs.Int("revoked", 0, "-baseline-me checks every token against an in-memory revocation set of this many sessions (authd's check); 0: no check")
	)
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if *baselineMe {
		return serveBaseline(ctx, *listen, *maxLifetime, *revoked, getenv, out)
	}
	cfg := load.Config{Scenario: *scenario, Workers: *workers, Users: *users, Duration: *duration,
		MaxRequests: *requests, EmailPrefix: *prefix, BcryptCost: *bcryptCost}
	if *scenario != load.ScenarioBcrypt {
		t, err := load.NewTargets(strings.Split(*urls, ","))
		if err != nil {
			return 2, err
		}
		cfg.Targets = t
		if *authURL != "" {
			if cfg.AuthTargets, err = load.NewTargets(strings.Split(*authURL, ",")); err != nil {
				return 2, err
			}
		}
	}
	res, err := load.Run(ctx, cfg)
	if err != nil {
		return 1, err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return 1, err
		}
	} else {
		printResult(out, res)
	}
	if res.Unexpected401 > 0 || res.ServerErrors > 0 {
		return 3, errors.New("unexpected 401 or 5xx answers (see statuses)")
	}
	return 0, nil
}

func printResult(w io.Writer, r *load.Result) {
	fmt.Fprintf(w, "scenario %s: %d workers, %d users, %.1fs", r.Scenario, r.Workers, r.Users, r.Seconds)
	if len(r.URLs) > 0 {
		fmt.Fprintf(w, ", %s", strings.Join(r.URLs, ","))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  all:     %8d requests %9.1f req/s  %9.1f ok/s  p50 %7.2fms  p90 %7.2fms  p99 %7.2fms  max %7.2fms\n",
		r.Requests, r.RPS, r.OKPerSec, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	names := make([]string, 0, len(r.Ops))
	for n := range r.Ops {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		o := r.Ops[n]
		fmt.Fprintf(w, "  %-8s %8d requests %9.1f ok/s  p50 %7.2fms  p90 %7.2fms  p99 %7.2fms  max %7.2fms\n",
			n+":", o.Requests, o.PerSecond, o.Latency.P50, o.Latency.P90, o.Latency.P99, o.Latency.Max)
	}
	keys := make([]string, 0, len(r.Statuses))
	for k := range r.Statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprint(w, "  statuses:")
	for _, k := range keys {
		fmt.Fprintf(w, " [%s]=%d", k, r.Statuses[k])
	}
	fmt.Fprintf(w, "\n  unexpected 401: %d, 5xx other than 503: %d\n", r.Unexpected401, r.ServerErrors)
}
