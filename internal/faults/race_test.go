package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/bench/load"
)

// TestTwoInstancesRaceOnOneToken (FI-6): 50 goroutines, 25 on each of two
// instances on one database, released together with the same refresh
// token. (a) Within the reuse grace: all 200 with one identical child, one
// child row, no reuse event. (b) Without grace: exactly one 200, every
// other 401 refresh_token_reused, the winner's child then 401
// session_revoked, and one reuse_detected revocation event. Repeated,
// because races are probabilistic (3 rounds, 20 with AUTHD_BENCH_LONG=1).
func TestTwoInstancesRaceOnOneToken(t *testing.T) {
	t.Parallel() // subprocess tests overlap; the in-process latency tests run alone first
	rounds := 3
	if long() {
		rounds = 20
	}
	for _, grace := range []string{"10s", "0s"} {
		t.Run("grace="+grace, func(t *testing.T) {
			db := dbURL(t)
			env := map[string]string{"AUTHD_DATABASE_URL": db, "AUTHD_REUSE_GRACE": grace}
			a := startAuthd(t, "a", env)
			b := startAuthd(t, "b", env)
			sqlDB := openSQL(t, db)
			cl := &load.Client{HTTP: load.NewHTTPClient(50)}
			ctx := context.Background()
			email := fmt.Sprintf("race-%s@example.com", grace)
			if r := cl.Register(ctx, a.URL, email, load.DefaultPassword); r.Status != http.StatusCreated {
				t.Fatalf("register: %s", r.Key())
			}
			for round := 0; round < rounds; round++ {
				login := cl.Login(ctx, b.URL, email, load.DefaultPassword)
				if login.Status != http.StatusOK {
					t.Fatalf("login: %s", login.Key())
				}
				r0 := login.Tokens.RefreshToken
				roundStart := time.Now()
				replies := make([]load.Reply, 50)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range replies {
					base := a.URL
					if i%2 == 1 {
						base = b.URL
					}
					wg.Add(1)
					go func(i int, base string) {
						defer wg.Done()
						<-start
						replies[i] = cl.Refresh(ctx, base, r0)
					}(i, base)
				}
				close(start)
				wg.Wait()
				t.Logf("round %d: 50 refreshes in %s", round, time.Since(roundStart))
				outcomes := make(map[string]int)
				children := make(map[string]bool)
				for _, r := range replies {
					outcomes[r.Key()]++
					if r.Status == http.StatusOK {
						children[r.Tokens.RefreshToken] = true
					}
				}
				var childRows, reuseEvents int
				if err := sqlDB.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND parent_id IS NOT NULL`,
					login.Tokens.SessionID).Scan(&childRows); err != nil {
					t.Fatal(err)
				}
				if err := sqlDB.QueryRow(`SELECT count(*) FROM security_events WHERE session_id = $1
					AND type = 'session_revoked' AND reason = 'reuse_detected'`, login.Tokens.SessionID).Scan(&reuseEvents); err != nil {
					t.Fatal(err)
				}
				if childRows != 1 {
					t.Errorf("round %d: %d child rows, want 1 (a forked family)", round, childRows)
				}
				if grace == "10s" {
					if outcomes["200"] != 50 || len(children) != 1 || reuseEvents != 0 {
						t.Errorf("round %d: outcomes %v, %d distinct children, %d reuse events; want 50×200, 1 child, 0 events",
							round, outcomes, len(children), reuseEvents)
					}
					continue
				}
				if outcomes["200"] != 1 || outcomes["401 refresh_token_reused"] != 49 || reuseEvents != 1 {
					t.Errorf("round %d: outcomes %v, %d reuse events; want 1×200, 49×401 refresh_token_reused, 1 event",
						round, outcomes, reuseEvents)
				}
				for child := range children {
					if r := cl.Refresh(ctx, a.URL, child); r.Status != http.StatusUnauthorized || r.Code != "session_revoked" {
						t.Errorf("round %d: the winner's child = %s, want 401 session_revoked", round, r.Key())
					}
				}
			}
		})
	}
}
