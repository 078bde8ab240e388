package services

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// The workers run at the configured nice value (AUTHD_BCRYPT_NICE, Linux):
// the lowest priority by default, the process's own with 0. The thread that
// created the Hasher keeps its priority.
func TestHasher_WorkersRunAtConfiguredPriority(t *testing.T) {
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

// threadNice returns the calling OS thread's nice value.
func threadNice() int {
	// The raw getpriority system call answers 20 - nice (1 to 40).
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return 0
	}
	return 20 - prio
}
