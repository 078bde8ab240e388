package testutil

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// WebhookReceiver is a Standard Webhooks receiver for tests, on loopback.
// It verifies every request with its own implementation of the spec
// (written from standard-webhooks/spec, not calling authd's signing code):
// the key is the base64 after "whsec_", the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}", HMAC-SHA256, and
// webhook-signature holds space-separated "v1,{base64}" entries of which
// one must match; the timestamp must be within five minutes. It keeps
// every verified message once per webhook-id (deduplication) and counts
// every request.
type WebhookReceiver struct {
	*httptest.Server

	mu       sync.Mutex
	secrets  []string
	fail     int // answer 500 to this many more requests
	hold     chan struct{}
	requests int
	bad      []string
	byID     map[string]WebhookMessage
	order    []string
	sigCount map[string]int // webhook-id → signatures in the last request
	arrived  chan struct{}
	// Now is the receiver's clock for the tolerance check (time.Now).
	Now func() time.Time
}

// WebhookMessage is one verified message.
type WebhookMessage struct {
	ID        string
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Attempts  int             // requests that carried this id
}

// NewWebhookReceiver starts a receiver; secrets are set with SetSecrets.
func NewWebhookReceiver(t testing.TB) *WebhookReceiver {
	r := &WebhookReceiver{byID: map[string]WebhookMessage{}, sigCount: map[string]int{},
		arrived: make(chan struct{}, 1<<16), Now: time.Now}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// SetSecrets sets the secrets the receiver accepts (any one matching
// signature verifies a request).
func (r *WebhookReceiver) SetSecrets(s ...string) {
	r.mu.Lock()
	r.secrets = append([]string(nil), s...)
	r.mu.Unlock()
}

// FailNext makes the next n requests answer 500.
func (r *WebhookReceiver) FailNext(n int) {
	r.mu.Lock()
	r.fail = n
	r.mu.Unlock()
}

// Hold makes requests wait until Release (a receiver that hangs).
func (r *WebhookReceiver) Hold() {
	r.mu.Lock()
	r.hold = make(chan struct{})
	r.mu.Unlock()
}

// Release lets held requests go on.
func (r *WebhookReceiver) Release() {
	r.mu.Lock()
	if r.hold != nil {
		close(r.hold)
		r.hold = nil
	}
	r.mu.Unlock()
}

func verify(secret, id, ts string, body []byte, header string) (bool, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, part := range strings.Split(header, " ") {
		version, sig, ok := strings.Cut(part, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true, nil
		}
	}
	return false, nil
}

func (r *WebhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	r.mu.Lock()
	r.requests++
	hold := r.hold
	secrets := r.secrets
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
			return
		}
	}
	problem := ""
	sec, err := strconv.ParseInt(ts, 10, 64)
	switch {
	case req.Method != http.MethodPost || id == "" || err != nil:
		problem = "missing headers"
	case r.Now().Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute:
		problem = "timestamp outside tolerance"
	default:
		ok := false
		for _, s := range secrets {
			if good, _ := verify(s, id, ts, body, sig); good {
				ok = true
				break
			}
		}
		if !ok {
			problem = "no valid signature"
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if problem != "" {
		r.bad = append(r.bad, fmt.Sprintf("%s: %s", id, problem))
		http.Error(w, problem, http.StatusUnauthorized)
		return
	}
	if r.fail > 0 {
		r.fail--
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	m, seen := r.byID[id]
	if !seen {
		if err := json.Unmarshal(body, &m); err != nil {
			r.bad = append(r.bad, id+": body is not JSON")
		}
		m.ID = id
		r.order = append(r.order, id)
	}
	m.Attempts++
	r.byID[id] = m
	r.sigCount[id] = len(strings.Fields(sig))
	w.WriteHeader(http.StatusNoContent)
	select {
	case r.arrived <- struct{}{}:
	default:
	}
}

// Messages returns the distinct verified messages in arrival order.
func (r *WebhookReceiver) Messages() []WebhookMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]WebhookMessage, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.byID[id])
	}
	return out
}

// Signatures returns how many signatures the last request with id carried.
func (r *WebhookReceiver) Signatures(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sigCount[id]
}

// Requests returns how many requests arrived, verified or not.
func (r *WebhookReceiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Bad returns the requests that failed verification.
func (r *WebhookReceiver) Bad() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// WaitFor waits up to d until cond holds, checking after every accepted
// message and every 50 ms.
func (r *WebhookReceiver) WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-r.arrived:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("webhook receiver: %s did not happen within %s (%d requests, %d distinct messages, bad: %v)",
				what, d, r.Requests(), len(r.Messages()), r.Bad())
		}
	}
}
