package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/authd/authd/bench/load"
	"github.com/authd/authd/internal/apitest"
)

func TestCheckLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8080", "https://127.9.9.9"} {
		if err := load.CheckLoopback(u); err != nil {
			t.Errorf("CheckLoopback(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1:8080", "http://example.com", "http://0.0.0.0:80", "ftp://127.0.0.1",
		"127.0.0.1:8080", "http://127.0.0.1.example.com", "http://[::2]:80"} {
		if err := load.CheckLoopback(u); err == nil {
			t.Errorf("CheckLoopback(%q) = nil, want refusal", u)
		}
	}
	if _, err := load.NewTargets([]string{"http://127.0.0.1:1", "http://192.168.1.1:1"}); err == nil {
		t.Error("NewTargets accepted a non-loopback URL in a list")
	}
}

func TestRunBounds(t *testing.T) {
	for _, cfg := range []load.Config{
		{Scenario: "refresh", Workers: 1, Duration: 11 * time.Minute},
		{Scenario: "refresh", Workers: 0, Duration: time.Second},
		{Scenario: "nope", Workers: 1, Duration: time.Second},
	} {
		if _, err := load.Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) started; want a refusal", cfg)
		}
	}
}

// TestRunScenarios drives a real instance briefly with every scenario and
// checks the request bound and that chained refresh never breaks.
func TestRunScenarios(t *testing.T) {
	s := apitest.New(t, apitest.Options{})
	targets, err := load.NewTargets([]string{s.URL})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []string{load.ScenarioRefresh, load.ScenarioMe, load.ScenarioLogin, load.ScenarioMixed} {
		res, err := load.Run(context.Background(), load.Config{Targets: targets, Scenario: sc, Workers: 4, Users: 2,
			Duration: 2 * time.Minute, MaxRequests: 100, EmailPrefix: "loadtest"})
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		if res.Requests != 100 || res.OK != 100 || res.Unexpected401 != 0 || res.ServerErrors != 0 {
			t.Errorf("%s: %d requests, %d ok, %d unexpected 401, %d 5xx, statuses %v; want 100 ok",
				sc, res.Requests, res.OK, res.Unexpected401, res.ServerErrors, res.Statuses)
		}
		if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Latency.Max < res.Latency.P99 {
			t.Errorf("%s: latency summary out of order: %+v", sc, res.Latency)
		}
	}
	res, err := load.Run(context.Background(), load.Config{Scenario: load.ScenarioBcrypt, Workers: 2, BcryptCost: 4,
		Duration: 200 * time.Millisecond})
	if err != nil || res.OK == 0 || res.OK != res.Requests {
		t.Errorf("bcrypt baseline: %+v, %v", res, err)
	}
}
