// Package testutil holds small helpers shared by authd's tests: a log
// sink safe for concurrent writers and the one poll-until helper.
package testutil

import (
	"bytes"
	"strings"
	"sync"
)

// SyncBuffer is a bytes.Buffer that request goroutines, background loops and
// the test may write and read at once (a log sink for tests).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Count returns how many times sub occurs in what was written so far.
func (s *SyncBuffer) Count(sub string) int { return strings.Count(s.String(), sub) }
