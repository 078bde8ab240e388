package app

import (
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/testutil"
)

// A line written at idle time reaches the log by itself, without a later
// write or Close pushing it out.
func TestLogWriter_IdleLineIsFlushed(t *testing.T) {
	var out testutil.SyncBuffer
	w := newLogWriter(&out)
	defer w.Close()
	if _, err := w.Write([]byte("{\"msg\":\"listening\"}\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatal("an idle log line never reached the output")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close writes out everything still waiting, in order, and nothing twice.
func TestLogWriter_CloseFlushesInOrder(t *testing.T) {
	var out testutil.SyncBuffer
	w := newLogWriter(&out)
	var want strings.Builder
	for i := 0; i < 5000; i++ { // several buffers' worth
		line := strings.Repeat("x", i%97) + "\n"
		want.WriteString(line)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Fatalf("output differs from what was written: %d bytes, want %d", len(out.String()), want.Len())
	}
}
