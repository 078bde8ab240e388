package services

import (
	"context"
	"runtime"
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

// The workers run at the configured nice value (AUTHD_BCRYPT_NICE, Linux):
// the lowest priority by default, the process's own with 0. The thread that
// created the Hasher keeps its priority.
func TestHasher_WorkersRunAtConfiguredPriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are set on Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mine := threadNice()
	for _, nice := range []int{19, 10, 0} {
		h, err := NewHasher(4, 1, time.Second, nice)
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := h.do(context.Background(), func() { got = threadNice() }); err != nil {
			t.Fatal(err)
		}
		h.Close()
		want := max(nice, mine) // a thread cannot go below its process's nice value without privilege
		if got != want {
			t.Errorf("NewHasher(nice %d): worker thread nice = %d, want %d", nice, got, want)
		}
		if threadNice() != mine {
			t.Fatalf("NewHasher(nice %d) lowered the calling thread too", nice)
		}
	}
	if _, err := NewHasher(4, 1, time.Second, 20); err == nil {
		t.Error("NewHasher(nice 20) = nil error, want out of range")
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
