package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/authd/authd/handlers"
	"github.com/authd/authd/internal/platform/memfeed"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/middleware"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

var benchTokenConfig = services.TokenConfig{
	Alg: "HS256", Secret: []byte("bench-secret-0123456789abcdef-0123456789"),
	Issuer: "authd", Audience: "authd", AccessTTL: 15 * time.Minute,
}

// meEngine builds the /v1/me handler chain (Bearer authentication, then the
// handler) around tokens that check revocations (set) or not (nil).
func meEngine(b *testing.B, db *models.DB, set *services.Revocations) (*gin.Engine, *services.Tokens, *services.Accounts) {
	b.Helper()
	clock := services.SystemClock
	tokens, err := services.NewTokens(benchTokenConfig, set, clock)
	if err != nil {
		b.Fatal(err)
	}
	hasher, err := services.NewHasher(4, 2, time.Second, 19)
	if err != nil {
		b.Fatal(err)
	}
	events := services.NewEvents(clock)
	ses := services.NewSessions(db.DB, services.NewRotationStore(db, false), services.SessionConfig{RefreshTTL: time.Hour, MaxAge: time.Hour, MaxSessions: 20},
		tokens, events, set, memfeed.New(), make([]byte, 32), clock)
	acc := services.NewAccounts(db.DB, services.AccountConfig{MinPasswordLength: 12}, hasher, events, ses, clock)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	handlers.Register(r, handlers.Services{Accounts: acc, Sessions: ses, Tokens: tokens, Ping: db.Ping, Draining: &atomic.Bool{}},
		handlers.Middleware{Authenticate: middleware.Authenticate(tokens), NoStore: middleware.NoStore}, handlers.Options{})
	return r, tokens, acc
}

// BenchmarkMe_RevocationCheck serves GET /v1/me alternately from an engine
// whose tokens check the in-memory revocation set (holding 10,000 revoked
// sessions) and from one without the check, on one PostgreSQL database, and
// reports both costs and the ratio of their request rates.
func BenchmarkMe_RevocationCheck(b *testing.B) {
	db := testdb.Postgres(b)
	ctx := context.Background()
	set := services.NewRevocations(db.DB, benchTokenConfig.AccessTTL, services.SystemClock)
	now := services.SystemClock()
	for range 10_000 {
		set.Add(uuid.New(), now)
	}
	checked, tokens, acc := meEngine(b, db, set)
	bare, _, _ := meEngine(b, db, nil)

	u, err := acc.CreateUser(ctx, "bench@example.com", "correct horse battery staple 42", "user")
	if err != nil {
		b.Fatal(err)
	}
	access, _, err := tokens.Issue(services.Principal{UserID: u.ID, SessionID: uuid.New(), Role: u.Role})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	serve := func(e *gin.Engine) time.Duration {
		w := httptest.NewRecorder()
		start := time.Now()
		e.ServeHTTP(w, req)
		d := time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("/v1/me = %d %s", w.Code, w.Body)
		}
		return d
	}
	// Warm both up (connections, caches) before measuring.
	for range 200 {
		serve(checked)
		serve(bare)
	}
	var withCheck, without time.Duration
	n := 0
	for b.Loop() {
		// Alternate the order so that neither engine always runs second.
		if n%2 == 0 {
			withCheck += serve(checked)
			without += serve(bare)
		} else {
			without += serve(bare)
			withCheck += serve(checked)
		}
		n++
	}
	b.ReportMetric(float64(withCheck.Nanoseconds())/float64(n), "check-ns/req")
	b.ReportMetric(float64(without.Nanoseconds())/float64(n), "nocheck-ns/req")
	// Requests per second with the check as a share of those without it.
	b.ReportMetric(float64(without)/float64(withCheck), "rps-ratio")
	if set.DBChecks.Load() != 0 {
		b.Fatal("the check asked the database")
	}
}

// BenchmarkRevocations_IsRevoked is the whole cost the check adds to an
// authenticated request: one read-locked map look-up.
func BenchmarkRevocations_IsRevoked(b *testing.B) {
	set := services.NewRevocations(nil, benchTokenConfig.AccessTTL, services.SystemClock)
	now := services.SystemClock()
	for range 10_000 {
		set.Add(uuid.New(), now)
	}
	ctx, id := context.Background(), uuid.New()
	for b.Loop() {
		if revoked, err := set.IsRevoked(ctx, id); revoked || err != nil {
			b.Fatal(revoked, err)
		}
	}
}
