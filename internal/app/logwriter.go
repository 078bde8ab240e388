package app

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logWriter batches log lines for `authd serve`: each request writes an
// access-log line, and one write(2) per line cost about a tenth of the CPU
// of a /v1/me request (bench/run.sh). Lines go out when 32 KiB are waiting
// or flushInterval after the first of them, whichever comes first, and at
// Close. A line therefore reaches the log at most flushInterval late; a
// crash loses at most that much (security events are in the database as
// well). Write copies the line, as slog expects of its writer. A failed
// write to the output loses what was waiting, not the lines after it.
type logWriter struct {
	mu    sync.Mutex
	out   io.Writer
	buf   *bufio.Writer
	timer *time.Timer
	armed bool
	err   error
}

const (
	logBufferSize = 32 << 10
	flushInterval = 50 * time.Millisecond
)

func newLogWriter(out io.Writer) *logWriter {
	w := &logWriter{out: out, buf: bufio.NewWriterSize(out, logBufferSize)}
	w.timer = time.AfterFunc(time.Hour, w.flushTimer)
	w.timer.Stop()
	return w
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p) // flushes by itself when full
	if err != nil {
		w.failed(err)
		return n, err
	}
	if !w.armed && w.buf.Buffered() > 0 {
		w.armed = true
		w.timer.Reset(flushInterval)
	}
	return n, nil
}

func (w *logWriter) flushTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if err := w.buf.Flush(); err != nil {
		w.failed(err)
	}
}

// failed records err and starts the buffer afresh: a bufio.Writer keeps its
// first error and refuses every later write, which would silence the log
// for good after one failed write (a full disk that frees up, say).
func (w *logWriter) failed(err error) {
	w.err = err
	w.buf.Reset(w.out)
}

// Close writes out what is waiting and stops the timer; call it after the
// last log line (Serve does, after the app has shut down).
func (w *logWriter) Close() error {
	w.timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if err := w.buf.Flush(); err != nil {
		w.failed(err)
	}
	return w.err
}
