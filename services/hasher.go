package services

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/metrics"
)

// Hasher runs bcrypt with bounded concurrency. bcrypt is the most expensive
// thing authd does; without a bound a login flood would take every core and
// starve refresh and /v1/me (cockroachdb PR #66028). A request that cannot
// start hashing within Wait gets 503 overloaded.
//
// The bcrypt work runs on a fixed set of worker goroutines, each locked to
// an OS thread whose scheduling priority is lowered (nice 19 on Linux by
// default, AUTHD_BCRYPT_NICE). When the cores are idle, logins get all of
// them; when requests for cheap endpoints (or the database) want a core,
// the kernel gives it to them first. The binary also raises GOMAXPROCS by
// the number of workers (see internal/app), so that hashing never holds
// every Go processor.
type Hasher struct {
	cost  int
	jobs  chan hashJob
	wait  time.Duration
	dummy []byte
	// Workers is the number of bcrypt workers.
	Workers int
	// Runs counts the bcrypt operations started (hash or compare).
	Runs atomic.Int64

	closeOnce sync.Once
}

type hashJob struct {
	fn   func()
	done chan struct{}
}

// NewHasher returns a Hasher at cost with at most concurrency operations at
// once, on worker threads at nice value nice (0 to 19; 0 keeps the
// process's priority). It generates the dummy hash that unknown emails are
// compared against, at the same cost, so they take as long as a wrong
// password.
func NewHasher(cost, concurrency int, wait time.Duration, nice int) (*Hasher, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d out of range", cost)
	}
	if nice < 0 || nice > 19 {
		return nil, fmt.Errorf("bcrypt nice value %d out of range 0-19", nice)
	}
	if concurrency < 1 {
		concurrency = 1
	}
	random := make([]byte, 32)
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	dummy, err := bcrypt.GenerateFromPassword(random, cost)
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	h := &Hasher{cost: cost, jobs: make(chan hashJob), wait: wait, dummy: dummy, Workers: concurrency}
	for i := 0; i < concurrency; i++ {
		go h.worker(nice)
	}
	return h, nil
}

// worker runs bcrypt jobs on a thread of its own at low priority. The
// thread is never unlocked: it keeps its priority and ends with the worker.
func (h *Hasher) worker(nice int) {
	runtime.LockOSThread()
	if nice > 0 {
		lowerThreadPriority(nice)
	}
	for j := range h.jobs {
		j.fn()
		close(j.done)
	}
}

// Close stops the workers. Operations after Close panic.
func (h *Hasher) Close() {
	h.closeOnce.Do(func() { close(h.jobs) })
}

var errOverloaded = &Error{Code: CodeOverloaded, Detail: "The service is busy; try again shortly."}

// do runs fn on a free worker and waits for it. It returns CodeOverloaded
// when no worker frees up within the wait.
func (h *Hasher) do(ctx context.Context, fn func()) error {
	j := hashJob{fn: fn, done: make(chan struct{})}
	select {
	case h.jobs <- j:
	default:
		timer := time.NewTimer(h.wait)
		defer timer.Stop()
		select {
		case h.jobs <- j:
		case <-timer.C:
			return errOverloaded
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.Runs.Add(1)
	metrics.BcryptRuns.Inc()
	<-j.done
	return nil
}

// Hash returns the bcrypt hash of password at the configured cost.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var b []byte
	var err error
	if derr := h.do(ctx, func() { b, err = bcrypt.GenerateFromPassword([]byte(password), h.cost) }); derr != nil {
		return "", derr
	}
	if err != nil {
		// ErrPasswordTooLong must never become a stored empty hash
		// (cbrgm/gopodder#49); the policy refuses such passwords earlier.
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(b), nil
}

// Compare reports whether password matches hash. An empty hash compares
// against the dummy hash and always reports false, in the same time.
func (h *Hasher) Compare(ctx context.Context, hash, password string) (bool, error) {
	target, known := []byte(hash), hash != ""
	if !known {
		target = h.dummy
	}
	var err error
	if derr := h.do(ctx, func() { err = bcrypt.CompareHashAndPassword(target, []byte(password)) }); derr != nil {
		return false, derr
	}
	switch {
	case err == nil:
		return known, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("compare password: %w", err)
	}
}

// NeedsRehash reports whether hash was made at a lower cost than configured.
func (h *Hasher) NeedsRehash(hash string) bool {
	cost, err := bcrypt.Cost([]byte(hash))
	return err == nil && cost < h.cost
}
