package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms and fails t unless it holds within limit;
// what names the condition in the failure.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
