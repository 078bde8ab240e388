package apitest

import (
	"testing"
	"time"
)

// AwaitProblem sends method path with the Bearer token until s answers
// status with the problem code, and fails t unless that happens within
// limit (0: the first answer must be it). Any answer but 200 on the way
// fails t as well. It returns how long it took: for rules such as "revoked
// everywhere within a second".
func (s *Server) AwaitProblem(t testing.TB, method, path, token string, status int, code string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := s.Do(t, method, path, nil, Bearer(token))
		if r.Status == status && r.Code() == code {
			return time.Since(start)
		}
		if r.Status != 200 {
			t.Fatalf("%s %s = %d %s while waiting for %d %s", method, path, r.Status, r.Body, status, code)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s %s still answers 200 after %s, want %d %s", method, path, limit, status, code)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
