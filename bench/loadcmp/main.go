// Command loadcmp drives authd or a GoTrue-compatible server (supabase/auth)
// on this machine with the same simulated devices (bench/load): sign-up,
// password sign-in, chained refresh rotation, GET /v1/me or /user.
// bench/run.sh uses it for the side-by-side phase with supabase/auth
// (BENCH_SUPABASE_BIN), for both servers, so that they meet one client and
// one accounting. Loopback targets only; it always stops by itself.
//
//	loadcmp -api gotrue -url http://127.0.0.1:9999 -scenario refresh -workers 16 -duration 10s
//	loadcmp -api authd -url http://127.0.0.1:8080 -ready-file /tmp/ready ...
//
// With -ready-file it creates that file when the set-up is done (accounts
// and sign-ins, bcrypt-bound) and starts the measured phase when the file
// has been removed, so that a caller counting the server's CPU per request
// starts its counters in between (at most 60 s of waiting).
//
// It prints the result as JSON (the shape of authd-bench -json); exit
// status 3 when a chained client saw a refused token or a 5xx other than 503.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authd/authd/bench/load"
)

func main() {
	fs := flag.NewFlagSet("loadcmp", flag.ExitOnError)
	var (
		api       = fs.String("api", load.APIGoTrue, "the targets' protocol: authd or gotrue")
		urls      = fs.String("url", "http://127.0.0.1:9999", "comma-separated base URLs (loopback only), used round-robin")
		scenario  = fs.String("scenario", load.ScenarioRefresh, "refresh, me, login or mixed")
		workers   = fs.Int("workers", 16, "simulated devices (concurrent clients)")
		users     = fs.Int("users", 0, "accounts the devices sign in as (default: -workers)")
		duration  = fs.Duration("duration", 15*time.Second, "measured phase, at most 10m")
		requests  = fs.Int64("requests", 0, "stop after this many requests (default and cap: 10,000,000)")
		prefix    = fs.String("email-prefix", "", "account names bench-<prefix>-<i>@example.com (default: unique per run)")
		readyFile = fs.String("ready-file", "", "create this file after the set-up and wait until it is removed before measuring")
	)
	_ = fs.Parse(os.Args[1:])
	if *scenario == load.ScenarioBcrypt {
		fail(2, errors.New("the bcrypt baseline has no server: use authd-bench"))
	}
	t, err := load.NewTargets(strings.Split(*urls, ","))
	if err != nil {
		fail(2, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := load.Config{Targets: t, API: *api, Scenario: *scenario, Workers: *workers,
		Users: *users, Duration: *duration, MaxRequests: *requests, EmailPrefix: *prefix}
	if *readyFile != "" {
		cfg.Ready = func(ctx context.Context) error { return handshake(ctx, *readyFile) }
	}
	res, err := load.Run(ctx, cfg)
	if err != nil {
		fail(1, err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fail(1, err)
	}
	if res.Unexpected401 > 0 || res.ServerErrors > 0 {
		fail(3, errors.New("refused tokens or 5xx answers (see statuses)"))
	}
}

// handshake creates path and waits until it is gone.
func handshake(ctx context.Context, path string) error {
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s was not removed within a minute", path)
}

func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "loadcmp: %v\n", err)
	os.Exit(code)
}
