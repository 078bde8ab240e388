// Package redistest gives tests a Redis: Shared, the test Redis named by
// AUTHD_TEST_REDIS_URL with a key prefix of the test's own, or Start, a
// private redis-server for fault-injection tests (a spare loopback port, no
// persistence, and helpers to kill, hang (SIGSTOP), resume and restart it on
// the same port). Tests skip without one, unless AUTHD_TEST_REQUIRE_DB=1 (as
// in CI), where they fail.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the Redis the tests share unless AUTHD_TEST_REDIS_URL names
// another (for instance one with a database number of its own,
// redis://127.0.0.1:6379/9).
const DefaultURL = "redis://127.0.0.1:6379"

// BaseURL returns the URL of the shared test Redis.
func BaseURL() string {
	if u := os.Getenv("AUTHD_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

func required() bool { return os.Getenv("AUTHD_TEST_REQUIRE_DB") == "1" }

var (
	sharedOnce sync.Once
	sharedErr  error
)

func checkShared() error {
	sharedOnce.Do(func() {
		opt, err := redis.ParseURL(BaseURL())
		if err != nil {
			sharedErr = err
			return
		}
		opt.MaxRetries = -1
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		sharedErr = c.Ping(ctx).Err()
	})
	return sharedErr
}

// Shared returns the URL of the shared test Redis and a random key prefix
// for t; the test writes only under that prefix (AUTHD_RATE_PREFIX), in the
// database the URL names, and the keys under it are deleted when t ends. t
// is skipped when that Redis does not answer, or fails under
// AUTHD_TEST_REQUIRE_DB=1.
func Shared(t testing.TB) (redisURL, prefix string) {
	t.Helper()
	if err := checkShared(); err != nil {
		if required() {
			t.Fatalf("Redis at %s is required (AUTHD_TEST_REQUIRE_DB=1): %v", redact(BaseURL()), err)
		}
		t.Skipf("Redis not reachable at %s (set AUTHD_TEST_REDIS_URL): %v", redact(BaseURL()), err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix = "authd-test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		opt, err := redis.ParseURL(BaseURL())
		if err != nil {
			t.Errorf("AUTHD_TEST_REDIS_URL: %v", err)
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan Redis keys under %s: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("delete Redis keys under %s: %v", prefix, err)
			}
		}
	})
	return BaseURL(), prefix
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return p.Redacted()
}

// Server is a redis-server process owned by a test.
type Server struct {
	Port int
	cmd  *exec.Cmd
	t    testing.TB
}

// Start runs redis-server on a spare port and stops it when t ends. The test
// is skipped when redis-server is not installed, unless
// AUTHD_TEST_REQUIRE_DB=1, where it fails.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if required() {
			t.Fatalf("redis-server is required (AUTHD_TEST_REQUIRE_DB=1): %v", err)
		}
		t.Skipf("redis-server not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{Port: port, t: t}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGCONT)
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port) }

func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	c := s.Client()
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d does not answer: %v", s.Port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client returns a new client of the server (the caller closes it).
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.Port), MaxRetries: -1})
}

// Kill ends the server with SIGKILL (a dead Redis; its data is gone).
func (s *Server) Kill() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port after Kill.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart without Kill")
	}
	s.start()
}

// Stop freezes the server with SIGSTOP (a hung Redis: connections open, no
// answers).
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatal(err)
	}
}

// Continue resumes a stopped server with SIGCONT.
func (s *Server) Continue() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatal(err)
	}
}

// Keys returns the keys matching pattern.
func (s *Server) Keys(pattern string) []string {
	s.t.Helper()
	c := s.Client()
	defer c.Close()
	keys, err := c.Keys(context.Background(), pattern).Result()
	if err != nil {
		s.t.Fatalf("KEYS %s: %v", pattern, err)
	}
	return keys
}
