package services

import (
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// AUTH-08 (F8b, F8c): the dummy hash is a valid bcrypt hash at the
// configured cost, so an unknown email costs a full comparison.
func TestHasher_DummyHashAtConfiguredCost(t *testing.T) {
	for _, cost := range []int{4, 10} {
		h, err := NewHasher(cost, 1, time.Second, 19)
		if err != nil {
			t.Fatal(err)
		}
		got, err := bcrypt.Cost(h.dummy)
		if err != nil || got != cost {
			t.Fatalf("dummy hash cost = %d (%v), want %d", got, err, cost)
		}
		ok, err := h.Compare(context.Background(), "", "anything")
		if ok || err != nil {
			t.Fatalf("Compare(unknown user) = %v, %v; want false, nil", ok, err)
		}
		if h.Runs.Load() != 1 {
			t.Fatalf("Compare(unknown user) ran bcrypt %d times, want 1", h.Runs.Load())
		}
	}
}

func TestHasher_Overloaded(t *testing.T) {
	h, err := NewHasher(4, 1, 20*time.Millisecond, 19)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	busy, started := make(chan struct{}), make(chan struct{})
	go func() { _ = h.do(context.Background(), func() { close(started); <-busy }) }()
	<-started
	_, err = h.Compare(context.Background(), "", "x")
	if ErrorCode(err) != CodeOverloaded {
		t.Fatalf("Compare() with every worker busy = %v, want overloaded", err)
	}
	close(busy)
	// The worker runs at the lowest priority: beside a CPU-heavy process
	// it may take longer than the 20 ms wait to come back for the next job,
	// so the free worker is asked again until it answers (within 10 s).
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := h.Compare(context.Background(), "", "x")
		if ok || (err != nil && ErrorCode(err) != CodeOverloaded) {
			t.Fatalf("Compare() once a worker is free = %v, %v; want false, nil", ok, err)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Compare() still overloaded 10 s after the worker was freed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkHasher_LoginCompareDefaultCost(b *testing.B) {
	h, err := NewHasher(12, 1, time.Minute, 19)
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery staple 42"), 12)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, err := h.Compare(context.Background(), string(hash), "correct horse battery staple 42"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
