package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/services"
)

// BenchmarkRefreshRotation measures one chained refresh (on PostgreSQL the
// two-statement rotation, on SQLite the five-statement transaction, plus
// signing the access token) through the service, as an app does it after
// every access-token expiry.
func BenchmarkRefreshRotation(b *testing.B) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		b.Run(dialect, func(b *testing.B) {
			s := apitest.New(b, apitest.Options{Dialect: dialect})
			_, tok := s.NewUser(b, "bench")
			ctx := context.Background()
			meta := services.Meta{IPPrefix: "203.0.113.0/24", UserAgent: "bench"}
			refresh := tok.RefreshToken
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pair, err := s.App.Sessions().Refresh(ctx, refresh, meta)
				if err != nil {
					b.Fatal(err)
				}
				refresh = pair.RefreshToken
			}
		})
	}
}

// BenchmarkLoginDefaultCost measures a whole password login (bcrypt at the
// default cost 12, the session insert and the access token) on PostgreSQL,
// next to the bare bcrypt comparison it is bound by.
func BenchmarkLoginDefaultCost(b *testing.B) {
	s := apitest.New(b, apitest.Options{Env: map[string]string{"AUTHD_BCRYPT_COST": "12", "AUTHD_MAX_SESSIONS": "1000000"}})
	email := "login-bench@example.com"
	s.Register(b, email, apitest.Password)
	ctx := context.Background()
	meta := services.Meta{IPPrefix: "203.0.113.0/24", UserAgent: "bench"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u, err := s.App.Accounts().Authenticate(ctx, email, apitest.Password, meta)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.App.Sessions().Start(ctx, u, services.StartOptions{}, meta); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequest measures one request through authd's whole handler
// chain (every middleware, the access-log line at the default level
// included, the JSON body in and out) on PostgreSQL, without the network:
// b.ReportAllocs states what one chained refresh and one GET /v1/me
// allocate on the server side.
func BenchmarkRequest(b *testing.B) {
	s := apitest.New(b, apitest.Options{Env: map[string]string{"AUTHD_LOG_LEVEL": "info"}})
	_, tok := s.NewUser(b, "request-bench")
	h := s.App.Handler()
	b.Run("refresh", func(b *testing.B) {
		refresh := tok.RefreshToken
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/v1/auth/refresh", strings.NewReader(`{"refresh_token":"`+refresh+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = "203.0.113.7:4711"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
			}
			var pair struct {
				RefreshToken string `json:"refresh_token"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &pair); err != nil {
				b.Fatal(err)
			}
			refresh = pair.RefreshToken
		}
	})
	b.Run("me", func(b *testing.B) {
		access := tok.AccessToken
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			req.RemoteAddr = "203.0.113.7:4711"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("me: %d %s", rec.Code, rec.Body)
			}
		}
	})
}
