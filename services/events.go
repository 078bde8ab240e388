package services

import (
	"context"
	"encoding/json"
	"sync"

	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// Events appends security events. Callers pass the transaction of the change
// an event records, so that the change and its event commit together.
type Events struct {
	now Clock

	mu        sync.RWMutex
	observers []func(*models.SecurityEvent)
	enqueuers []Enqueuer
}

// Enqueuer queues the outbound deliveries of ev (webhooks, e-mails, …) in
// tx, the transaction that records it: an outbox (see internal/platform/outbox).
type Enqueuer func(ctx context.Context, tx *gorm.DB, ev *models.SecurityEvent) error

// Enqueue registers fn to run for every event recorded, in its transaction.
// An error from fn rolls the change back, like a failure to record it.
func (e *Events) Enqueue(fn Enqueuer) {
	e.mu.Lock()
	e.enqueuers = append(e.enqueuers, fn)
	e.mu.Unlock()
}

// NewEvents returns an Events.
func NewEvents(now Clock) *Events { return &Events{now: now} }

// Observe registers fn to be called for every event recorded (for metrics
// and logs). fn runs before the transaction commits, so it must not block.
func (e *Events) Observe(fn func(*models.SecurityEvent)) {
	e.mu.Lock()
	e.observers = append(e.observers, fn)
	e.mu.Unlock()
}

// Record appends ev in tx, stamping its time.
func (e *Events) Record(ctx context.Context, tx *gorm.DB, ev *models.SecurityEvent) error {
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = e.now()
	}
	if err := models.InsertSecurityEvent(ctx, tx, ev); err != nil {
		// Without its event a change must not happen (the caller's
		// transaction rolls back), and the client may retry: an
		// infrastructure failure, 503.
		return &infraError{err: err}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, fn := range e.enqueuers {
		if err := fn(ctx, tx, ev); err != nil {
			return &infraError{err: err}
		}
	}
	for _, fn := range e.observers {
		fn(ev)
	}
	return nil
}

// jsonObject builds a JSON object from alternating keys and values.
func jsonObject(kv ...any) string {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		m[k] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}
