package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authd/authd/internal/apitest"
)

// BenchmarkDPoP_Overhead serves, alternately and in one run, a refresh and a
// GET /v1/me of a DPoP-bound session (proof verification, the jti replay
// check, the binding check; ES256 proofs signed before the clock starts) and
// of an unbound session, through the wired engine on PostgreSQL, and reports
// the mean time of each and the ratio of their request rates (dpop ÷ plain).
// Target: the refresh ratio at least 0.75 (proof verification costs at most a
// quarter of the refresh throughput).
func BenchmarkDPoP_Overhead(b *testing.B) {
	s := apitest.New(b, apitest.Options{})
	handler := s.App.Handler()
	const base = "http://authd.test"
	k := apitest.NewDPoPKey(b, jose.ES256, nil)
	bound := s.LoginDPoP(b, k, registered(b, s, "bound"), apitest.Password)
	plain := s.Login(b, registered(b, s, "plain"), apitest.Password)

	type chain struct {
		tok   apitest.Tokens
		proof bool
	}
	serve := func(req *http.Request) (time.Duration, []byte) {
		w := httptest.NewRecorder()
		start := time.Now()
		handler.ServeHTTP(w, req)
		d := time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("%s %s = %d %s", req.Method, req.URL.Path, w.Code, w.Body)
		}
		return d, w.Body.Bytes()
	}
	refresh := func(c *chain) time.Duration {
		req := httptest.NewRequest("POST", base+"/v1/auth/refresh", strings.NewReader(`{"refresh_token":"`+c.tok.RefreshToken+`"}`))
		req.Header.Set("Content-Type", "application/json")
		if c.proof {
			req.Header.Set("DPoP", k.Proof(b, "POST", base+"/v1/auth/refresh", ""))
		}
		d, body := serve(req)
		if err := json.Unmarshal(body, &c.tok); err != nil {
			b.Fatal(err)
		}
		return d
	}
	me := func(c *chain) time.Duration {
		req := httptest.NewRequest("GET", base+"/v1/me", nil)
		if c.proof {
			req.Header.Set("Authorization", "DPoP "+c.tok.AccessToken)
			req.Header.Set("DPoP", k.Proof(b, "GET", base+"/v1/me", c.tok.AccessToken))
		} else {
			req.Header.Set("Authorization", "Bearer "+c.tok.AccessToken)
		}
		d, _ := serve(req)
		return d
	}
	// The chains live across the sub-benchmarks (and -count): a refresh
	// token is single-use.
	dpop, bearer := &chain{tok: bound, proof: true}, &chain{tok: plain}
	for _, op := range []struct {
		name string
		do   func(*chain) time.Duration
	}{{"refresh", refresh}, {"me", me}} {
		b.Run(op.name, func(b *testing.B) {
			for range 50 { // warm up connections and caches
				op.do(dpop)
				op.do(bearer)
			}
			var withProof, without time.Duration
			n := 0
			for b.Loop() {
				// Alternate the order so that neither always runs second.
				if n%2 == 0 {
					withProof += op.do(dpop)
					without += op.do(bearer)
				} else {
					without += op.do(bearer)
					withProof += op.do(dpop)
				}
				n++
			}
			b.ReportMetric(float64(withProof.Nanoseconds())/float64(n), "dpop-ns/req")
			b.ReportMetric(float64(without.Nanoseconds())/float64(n), "plain-ns/req")
			b.ReportMetric(float64(without)/float64(withProof), "rps-ratio")
		})
	}
}

// registered creates an account and returns its email.
func registered(b *testing.B, s *apitest.Server, name string) string {
	b.Helper()
	email := name + "@example.com"
	s.Register(b, email, apitest.Password)
	return email
}
