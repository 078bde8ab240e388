package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/testdb"
	authdtest "github.com/authd/authd/internal/testutil"
	"github.com/authd/authd/metrics"
)

// /metrics on the main address counts logins, refreshes by outcome, reuse
// detections and revocations, request durations by route, and the pool.
func TestMetrics_CountsAuthOutcomes(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_REUSE_GRACE": "0s"}})
	counters := map[string]func() float64{
		"logins succeeded": func() float64 { return testutil.ToFloat64(metrics.Logins.WithLabelValues("succeeded")) },
		"logins failed":    func() float64 { return testutil.ToFloat64(metrics.Logins.WithLabelValues("failed")) },
		"rotated":          func() float64 { return testutil.ToFloat64(metrics.Refreshes.WithLabelValues("rotated")) },
		"reused":           func() float64 { return testutil.ToFloat64(metrics.Refreshes.WithLabelValues("reused")) },
		"invalid":          func() float64 { return testutil.ToFloat64(metrics.Refreshes.WithLabelValues("invalid")) },
		"revoked refresh":  func() float64 { return testutil.ToFloat64(metrics.Refreshes.WithLabelValues("revoked")) },
		"reuse detections": func() float64 { return testutil.ToFloat64(metrics.ReuseDetections) },
		"reuse revocations": func() float64 {
			return testutil.ToFloat64(metrics.Revocations.WithLabelValues("reuse_detected"))
		},
		"logout revocations": func() float64 { return testutil.ToFloat64(metrics.Revocations.WithLabelValues("logout")) },
		"bcrypt":             func() float64 { return testutil.ToFloat64(metrics.BcryptRuns) },
	}
	before := map[string]float64{}
	for k, f := range counters {
		before[k] = f()
	}

	email, tok := s.NewUser(t, "metrics") // register + login: 2 bcrypt runs
	if r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": "not the password 1"}); r.Status != 401 {
		t.Fatalf("bad login = %d", r.Status)
	}
	next := s.MustRefresh(t, tok.RefreshToken)
	s.Refresh(t, tok.RefreshToken)  // reuse
	s.Refresh(t, next.RefreshToken) // revoked by the reuse
	s.Refresh(t, "garbage")
	other := s.Login(t, email, apitest.Password)
	s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": other.RefreshToken})

	want := map[string]float64{"logins succeeded": 2, "logins failed": 1, "rotated": 1, "reused": 1, "invalid": 1,
		"revoked refresh": 1, "reuse detections": 1, "reuse revocations": 1, "logout revocations": 1, "bcrypt": 4}
	for k, f := range counters {
		// Other tests of the package may run alongside: at least, not exactly.
		if got := f() - before[k]; got < want[k] {
			t.Errorf("%s increased by %v, want %v", k, got, want[k])
		}
	}

	r := s.Do(t, "GET", "/metrics", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	for _, line := range []string{
		`authd_http_request_duration_seconds_bucket{method="POST",route="/v1/auth/login",status="401",le="+Inf"}`,
		`authd_http_request_duration_seconds_count{method="POST",route="/v1/auth/refresh",status="200"}`,
		`go_sql_open_connections{db_name="authd"}`,
		`go_sql_max_open_connections{db_name="authd"} 20`,
		`authd_security_events_total{reason="reuse_detected",type="session_revoked"}`,
		`authd_logins_total{result="succeeded"}`,
	} {
		if !bytes.Contains(r.Body, []byte(line)) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// With AUTHD_METRICS_ADDR, /metrics moves to that address and the public
// one answers 404; Run also runs the retention job and stops both.
func TestRun_MetricsAddrAndRetention(t *testing.T) {
	env := apitest.DefaultEnv()
	env["AUTHD_ADDR"] = "127.0.0.1:0"
	env["AUTHD_METRICS_ADDR"] = "127.0.0.1:0"
	env["AUTHD_RETENTION_INTERVAL"] = "20ms"
	env["AUTHD_LOG_LEVEL"] = "info"
	env["AUTHD_DATABASE_URL"] = testdb.PostgresURL(t)
	cfg, err := app.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs authdtest.SyncBuffer
	a, err := app.New(context.Background(), cfg, &logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, func(addr string) { addrc <- addr }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Run() = %v", err)
	}
	metricsAddr := a.MetricsAddr()
	if metricsAddr == "" || metricsAddr == addr {
		t.Fatalf("metrics address = %q (main %q), want a separate bound address", metricsAddr, addr)
	}
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get("http://" + addr + "/metrics"); code != 404 {
		t.Errorf("public /metrics = %d, want 404 with AUTHD_METRICS_ADDR set", code)
	}
	if code, body := get("http://" + metricsAddr + "/metrics"); code != 200 || !strings.Contains(body, `go_sql_open_connections{db_name="authd"}`) {
		t.Errorf("internal /metrics = %d, want 200 with authd metrics", code)
	}
	authdtest.WaitFor(t, "a retention round is logged", 5*time.Second, func() bool {
		return strings.Contains(logs.String(), `"msg":"retention round"`)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() after cancel = %v", err)
	}
	if _, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
		t.Error("the metrics server still answers after Run returned")
	}
}

// In production /metrics on the main address is not public: it needs the
// Bearer token AUTHD_METRICS_TOKEN and is not served at all without one.
// Development without a token keeps it open (issue 15 item 12).
func TestMetrics_ProductionNeedsToken(t *testing.T) {
	const token = "scrape-token-0123456789abcdefghijklmnop"
	production := map[string]string{"AUTHD_ENV": "production", "AUTHD_BCRYPT_COST": "10"}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range production {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	tests := []struct {
		name       string
		env        map[string]string
		header     []apitest.Header
		wantStatus int
		wantCode   string
	}{
		{"production without a token is not served", production, nil, 404, "not_found"},
		{"production without a token ignores a Bearer", production, []apitest.Header{apitest.Bearer(token)}, 404, "not_found"},
		{"production, no Authorization", with(map[string]string{"AUTHD_METRICS_TOKEN": token}), nil, 401, "invalid_token"},
		{"production, wrong token", with(map[string]string{"AUTHD_METRICS_TOKEN": token}), []apitest.Header{apitest.Bearer("not-" + token)}, 401, "invalid_token"},
		{"production, a prefix of the token", with(map[string]string{"AUTHD_METRICS_TOKEN": token}), []apitest.Header{apitest.Bearer(token[:len(token)-1])}, 401, "invalid_token"},
		{"production, Basic instead of Bearer", with(map[string]string{"AUTHD_METRICS_TOKEN": token}), []apitest.Header{{Name: "Authorization", Value: "Basic " + token}}, 401, "invalid_token"},
		{"production, the token", with(map[string]string{"AUTHD_METRICS_TOKEN": token}), []apitest.Header{apitest.Bearer(token)}, 200, ""},
		{"development stays open", map[string]string{"AUTHD_ENV": "development", "AUTHD_BCRYPT_COST": "10"}, nil, 200, ""},
		{"development with a token needs it too", map[string]string{"AUTHD_ENV": "development", "AUTHD_BCRYPT_COST": "10", "AUTHD_METRICS_TOKEN": token}, nil, 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: tt.env})
			r := s.Do(t, "GET", "/metrics", nil, tt.header...)
			if r.Status != tt.wantStatus || r.Code() != tt.wantCode {
				t.Fatalf("GET /metrics = %d %q, want %d %q", r.Status, r.Code(), tt.wantStatus, tt.wantCode)
			}
			if r.Status == 200 && !bytes.Contains(r.Body, []byte("authd_http_request_duration_seconds")) {
				t.Errorf("GET /metrics answered 200 without authd's metrics:\n%.300s", r.Body)
			}
			if r.Status == 401 && r.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate = %q, want Bearer", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}
