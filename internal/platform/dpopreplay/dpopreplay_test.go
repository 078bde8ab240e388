package dpopreplay_test

import (
	"context"
	"testing"
	"time"

	"github.com/authd/authd/internal/platform/dpopreplay"
	"github.com/authd/authd/internal/platform/ratelimit"
	"github.com/authd/authd/internal/redistest"
)

func TestMemory_Seen(t *testing.T) {
	now := time.Now()
	m := dpopreplay.NewMemory(func() time.Time { return now })
	ctx := context.Background()
	if seen, _ := m.Seen(ctx, "a", now.Add(time.Minute)); seen {
		t.Fatal("first Seen(a) = true, want false")
	}
	if seen, _ := m.Seen(ctx, "a", now.Add(time.Minute)); !seen {
		t.Fatal("second Seen(a) = false, want true")
	}
	now = now.Add(2 * time.Minute)
	if seen, _ := m.Seen(ctx, "a", now.Add(time.Minute)); seen {
		t.Fatal("Seen(a) after its window = true, want false")
	}
}

// TestRedis_SharedAndOutage: two caches on one Redis see each other's ids;
// with Redis dead each still refuses what it saw itself, without an error.
func TestRedis_SharedAndOutage(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	now := time.Now
	dial := func() *dpopreplay.Redis {
		c, err := ratelimit.Dial(srv.URL(), 75*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return dpopreplay.NewRedis(c, "test:dpop:", now, nil)
	}
	a, b := dial(), dial()
	until := time.Now().Add(time.Minute)
	if seen, err := a.Seen(ctx, "x", until); seen || err != nil {
		t.Fatalf("a.Seen(x) = %v, %v, want false", seen, err)
	}
	if seen, err := b.Seen(ctx, "x", until); !seen || err != nil {
		t.Fatalf("b.Seen(x) after a = %v, %v, want true", seen, err)
	}
	if keys := srv.Keys("test:dpop:*"); len(keys) != 1 {
		t.Fatalf("redis keys = %v, want one", keys)
	}
	srv.Kill()
	if seen, err := a.Seen(ctx, "y", until); seen || err != nil {
		t.Fatalf("a.Seen(y) with Redis dead = %v, %v, want false, nil", seen, err)
	}
	if seen, err := a.Seen(ctx, "y", until); !seen || err != nil {
		t.Fatalf("a.Seen(y) again with Redis dead = %v, %v, want true (in process)", seen, err)
	}
}
