package services

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/internal/metrics"
)

// Hasher runs bcrypt with bounded concurrency. bcrypt is the most expensive
// thing authd does; without a bound a login flood would take every core and
// starve refresh and /v1/me (cockroachdb PR #66028). A request that cannot
// start hashing within Wait gets 503 overloaded.
type Hasher struct {
	cost  int
	sem   chan struct{}
	wait  time.Duration
	dummy []byte
	// Runs counts the bcrypt operations started (hash or compare).
	Runs atomic.Int64
}

// NewHasher returns a Hasher at cost with at most concurrency operations at
// once. It generates the dummy hash that unknown emails are compared
// against, at the same cost, so they take as long as a wrong password.
func NewHasher(cost, concurrency int, wait time.Duration) (*Hasher, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d out of range", cost)
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
	return &Hasher{cost: cost, sem: make(chan struct{}, concurrency), wait: wait, dummy: dummy}, nil
}

var errOverloaded = &Error{Code: CodeOverloaded, Detail: "The service is busy; try again shortly."}

func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	default:
	}
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-timer.C:
		return nil, errOverloaded
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Hash returns the bcrypt hash of password at the configured cost.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	h.Runs.Add(1)
	metrics.BcryptRuns.Inc()
	b, err := bcrypt.GenerateFromPassword([]byte(password), h.cost)
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
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	h.Runs.Add(1)
	metrics.BcryptRuns.Inc()
	target, known := []byte(hash), hash != ""
	if !known {
		target = h.dummy
	}
	err = bcrypt.CompareHashAndPassword(target, []byte(password))
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
