// Package bench holds load and scale checks that are too slow for the
// regular suite. Each skips unless its environment variable is set.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
)

// TestSecurityEventsQuery_1M seeds 1,000,000 events on PostgreSQL and times
// the admin query for one user's events filtered by reason through the
// whole HTTP stack. Run it with
//
//	AUTHD_BENCH_EVENTS=1 AUTHD_TEST_REQUIRE_DB=1 go test ./bench/ -run SecurityEventsQuery -v -timeout 20m
//
// It fails when the first page's p99 is 20 ms or more.
func TestSecurityEventsQuery_1M(t *testing.T) {
	if os.Getenv("AUTHD_BENCH_EVENTS") != "1" {
		t.Skip("set AUTHD_BENCH_EVENTS=1 to seed 1,000,000 events and time the admin query")
	}
	n := 1_000_000
	if v := os.Getenv("AUTHD_BENCH_EVENTS_ROWS"); v != "" {
		fmt.Sscan(v, &n)
	}
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_LOG_LEVEL": "error", "AUTHD_RETENTION_INTERVAL": "0s"}})
	db := s.App.DB()
	heavy := uuid.New()
	light := uuid.MustParse("00000000-0000-4000-8000-000000000042")
	start := time.Now()
	testdb.Must(t, db.Connection(func(conn *gorm.DB) error {
		// The instance's statement timeout is for requests, not for this.
		for _, q := range []string{"SET statement_timeout = 0", testdb.SeedEventsSQL, "VACUUM ANALYZE security_events", "RESET statement_timeout"} {
			var args []any
			if q == testdb.SeedEventsSQL {
				args = append(args, map[string]any{"heavy": heavy, "n": n})
			}
			if err := conn.Exec(q, args...).Error; err != nil {
				return fmt.Errorf("%.40s: %w", q, err)
			}
		}
		return nil
	}))
	t.Logf("seeded %d events in %s", n, time.Since(start).Round(time.Millisecond))

	email := "bench-admin@example.com"
	if _, err := s.App.Accounts().CreateUser(context.Background(), email, apitest.Password, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	admin := s.Login(t, email, apitest.Password)

	get := func(q url.Values) (time.Duration, *string, int) {
		t0 := time.Now()
		r := s.Do(t, "GET", "/v1/admin/security-events?"+q.Encode(), nil, apitest.Bearer(admin.AccessToken))
		d := time.Since(t0)
		if r.Status != 200 {
			t.Fatalf("GET %s = %d %s", q.Encode(), r.Status, r.Body)
		}
		var page struct {
			Events     []map[string]any `json:"events"`
			NextCursor *string          `json:"next_cursor"`
		}
		r.JSON(t, &page)
		return d, page.NextCursor, len(page.Events)
	}
	// A cursor ten pages deep into the heavy user's reuse events.
	deep := url.Values{"user_id": {heavy.String()}, "reason": {"reuse_detected"}}
	for i := 0; i < 10; i++ {
		_, next, _ := get(deep)
		deep.Set("cursor", *next)
	}
	cases := []struct {
		name string
		q    url.Values
	}{
		{"heavy user (300k events), reason=reuse_detected, first page", url.Values{"user_id": {heavy.String()}, "reason": {"reuse_detected"}}},
		{"light user (70 events), reason=reuse_detected, first page", url.Values{"user_id": {light.String()}, "reason": {"reuse_detected"}}},
		{"heavy user, reason=reuse_detected, page 11 (cursor)", deep},
		{"heavy user, limit=500", url.Values{"user_id": {heavy.String()}, "limit": {"500"}}},
		{"all events, type=session_revoked, first page", url.Values{"type": {"session_revoked"}}},
	}
	const runs = 1000
	for i, c := range cases {
		for w := 0; w < 50; w++ {
			get(c.q)
		}
		lat := make([]time.Duration, runs)
		rows := 0
		for j := range lat {
			lat[j], _, rows = get(c.q)
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		p := func(q float64) time.Duration { return lat[int(q*float64(runs-1))].Round(10 * time.Microsecond) }
		t.Logf("%-62s rows=%3d p50=%-8s p95=%-8s p99=%-8s max=%s", c.name, rows, p(.5), p(.95), p(.99), lat[runs-1].Round(10*time.Microsecond))
		if i == 0 {
			t.Logf("database execution time of that query: %s", serverTimes(t, db, models.EventFilter{UserID: &heavy, Reason: "reuse_detected", Limit: 51}))
		}
		if i == 0 && p(.99) >= 20*time.Millisecond {
			t.Errorf("first page p99 = %s, want under 20 ms", p(.99))
		}
	}
}

// serverTimes runs the query under EXPLAIN ANALYZE 300 times and reports
// PostgreSQL's own execution time percentiles (no network, no JSON).
func serverTimes(t *testing.T, db *models.DB, f models.EventFilter) string {
	t.Helper()
	sql := db.ToSQL(func(tx *gorm.DB) *gorm.DB {
		return models.SecurityEventsQuery(context.Background(), tx, f).Find(&[]models.SecurityEvent{})
	})
	const runs = 300
	ms := make([]float64, runs)
	for i := range ms {
		var plan string
		testdb.Must(t, db.Raw("EXPLAIN (ANALYZE, FORMAT JSON) "+sql).Row().Scan(&plan))
		var doc []struct {
			ExecutionTime float64 `json:"Execution Time"`
		}
		if err := json.Unmarshal([]byte(plan), &doc); err != nil || len(doc) == 0 {
			t.Fatalf("EXPLAIN ANALYZE: %v", err)
		}
		ms[i] = doc[0].ExecutionTime
	}
	sort.Float64s(ms)
	return fmt.Sprintf("p50=%.3fms p99=%.3fms", ms[runs/2], ms[runs*99/100])
}
