// Package profile runs authd's hot paths in one process under the load
// driver, for CPU and allocation profiles:
//
//	go test ./bench/profile -run Profile -count=1 -cpuprofile cpu.out -args -profile.scenario=me
//	go tool pprof -top -focus 'authd/(handlers|services|middleware|models)' cpu.out
//
// It runs only when -profile.scenario is given (skipped otherwise).
package profile

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/authd/authd/bench/load"
	"github.com/authd/authd/internal/apitest"
)

var (
	scenario = flag.String("profile.scenario", "", "refresh, me, login or mixed; empty: skip")
	duration = flag.Duration("profile.duration", 10*time.Second, "load duration")
	workers  = flag.Int("profile.workers", 16, "workers")
)

func TestProfile(t *testing.T) {
	if *scenario == "" {
		t.Skip("pass -profile.scenario to profile a scenario")
	}
	// Default log level (info), so every request writes its access-log line
	// as in production (to a discarding writer here).
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_LOG_LEVEL": "info"}})
	targets, err := load.NewTargets([]string{s.URL})
	if err != nil {
		t.Fatal(err)
	}
	res, err := load.Run(context.Background(), load.Config{Targets: targets, Scenario: *scenario,
		Workers: *workers, Users: 4, Duration: *duration})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %.0f ok/s, p50 %.2f ms, p99 %.2f ms, %v", *scenario, res.OKPerSec, res.Latency.P50, res.Latency.P99, res.Statuses)
}
