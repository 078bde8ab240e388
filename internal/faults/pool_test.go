package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/bench/load"
	"github.com/authd/authd/internal/apitest"
)

// TestTinyPool (FI-2): with one database connection, 20 concurrent
// refreshes of 20 sessions plus 20 concurrent refreshes of one token all
// finish within 10 s: no refresh path asks for a second connection while
// it holds one in a transaction. The 20 sessions rotate (200); the 20
// presentations of one token are a retry storm within the grace window, so
// all get 200 with the one same child.
func TestTinyPool(t *testing.T) {
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_DB_MAX_OPEN_CONNS": "1"}})
	var toks []apitest.Tokens
	for i := 0; i < 21; i++ {
		_, tok := s.NewUser(t, fmt.Sprintf("pool%d", i))
		toks = append(toks, tok)
	}
	cl := &load.Client{HTTP: load.NewHTTPClient(40)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	replies := make([]load.Reply, 40)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		tok := toks[20].RefreshToken // the shared one
		if i < 20 {
			tok = toks[i].RefreshToken
		}
		wg.Add(1)
		go func(i int, tok string) {
			defer wg.Done()
			<-start
			replies[i] = cl.Refresh(ctx, s.URL, tok)
		}(i, tok)
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	if took > 10*time.Second || ctx.Err() != nil {
		t.Fatalf("40 refreshes on one connection took %s (deadlock?)", took)
	}
	t.Logf("40 refreshes on one connection in %s", took)
	children := make(map[string]int)
	for i, r := range replies {
		if r.Status != http.StatusOK {
			t.Errorf("refresh %d: %s, want 200", i, r.Key())
			continue
		}
		if i >= 20 {
			children[r.Tokens.RefreshToken]++
		}
	}
	if len(children) != 1 {
		t.Errorf("20 presentations of one token within grace got %d different children, want 1", len(children))
	}
	n := testdbCount(t, s, `SELECT count(*) FROM refresh_tokens WHERE parent_id IS NOT NULL`)
	if n != 21 {
		t.Errorf("%d rotations committed, want 21 (20 sessions + 1 for the shared token)", n)
	}
}

// TestRowLockHeld (FI-3): another connection holds the row lock of one
// session. A refresh of that session ends within the lock timeout with 503
// unavailable (not 500, not a hang until the lock is released); a refresh of
// another session is unaffected; once the lock is gone the same token
// refreshes.
func TestRowLockHeld(t *testing.T) {
	const lockTimeout = time.Second
	s := apitest.New(t, apitest.Options{Env: map[string]string{"AUTHD_DB_LOCK_TIMEOUT": lockTimeout.String()}})
	_, locked := s.NewUser(t, "locked")
	_, other := s.NewUser(t, "other")

	sqlDB := openSQL(t, s.DatabaseURL)
	ctx := context.Background()
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM sessions WHERE id = $1 FOR UPDATE`, locked.SessionID).Scan(&id); err != nil {
		t.Fatalf("lock the session row: %v", err)
	}

	cl := &load.Client{HTTP: load.NewHTTPClient(4)}
	var wg sync.WaitGroup
	var lockedReply, otherReply load.Reply
	wg.Add(2)
	go func() { defer wg.Done(); lockedReply = cl.Refresh(ctx, s.URL, locked.RefreshToken) }()
	go func() { defer wg.Done(); otherReply = cl.Refresh(ctx, s.URL, other.RefreshToken) }()
	wg.Wait()
	if lockedReply.Status != http.StatusServiceUnavailable || lockedReply.Code != "unavailable" || lockedReply.RetryAfter == "" {
		t.Errorf("refresh of the locked session = %s (Retry-After %q), want 503 unavailable with Retry-After", lockedReply.Key(), lockedReply.RetryAfter)
	}
	if lockedReply.Latency > lockTimeout+time.Second {
		t.Errorf("refresh of the locked session took %s, want about the lock timeout (%s)", lockedReply.Latency, lockTimeout)
	}
	if otherReply.Status != http.StatusOK {
		t.Errorf("refresh of another session = %s, want 200", otherReply.Key())
	}
	if otherReply.Latency > lockTimeout/2 {
		t.Errorf("refresh of another session took %s: it waited for the lock", otherReply.Latency)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := cl.Refresh(ctx, s.URL, locked.RefreshToken); r.Status != http.StatusOK {
		t.Errorf("refresh after the lock is released = %s, want 200 (the failed attempt changed nothing)", r.Key())
	}
}

func testdbCount(t *testing.T, s *apitest.Server, q string) int {
	t.Helper()
	var n int
	if err := openSQL(t, s.DatabaseURL).QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
