package app

import (
	"errors"
	"strings"
	"sync"
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
	testutil.WaitFor(t, "an idle log line reaches the output", 5*time.Second, func() bool {
		return strings.Contains(out.String(), "listening")
	})
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

// flakyOutput fails the writes it is told to fail, and keeps the rest.
type flakyOutput struct {
	mu   sync.Mutex
	fail bool
	got  strings.Builder
}

func (f *flakyOutput) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, errors.New("no space left on device")
	}
	return f.got.Write(p)
}

func (f *flakyOutput) set(fail bool) { f.mu.Lock(); f.fail = fail; f.mu.Unlock() }

// One failed write to the log output (a full disk, say) loses the lines
// that were waiting, but the lines written after the output recovers still
// reach it, and Close reports the failure.
func TestLogWriter_RecoversAfterAFailedWrite(t *testing.T) {
	out := &flakyOutput{}
	w := newLogWriter(out)
	out.set(true)
	big := strings.Repeat("x", logBufferSize) + "\n" // more than the buffer: written at once
	if _, err := w.Write([]byte(big)); err == nil {
		t.Fatal("a write to a failing output reported no error")
	}
	out.set(false)
	if _, err := w.Write([]byte("after\n")); err != nil {
		t.Fatalf("the first write after the output recovered: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close reported no error after a failed write")
	}
	if got := out.got.String(); got != "after\n" {
		t.Fatalf("output after recovery = %.40q (%d bytes), want the line written after it", got, len(got))
	}
}
