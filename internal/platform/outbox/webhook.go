package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/netguard"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// FailureWindow is how long an endpoint may fail before it is disabled.
const FailureWindow = 24 * time.Hour

// WebhookArgs is the job of one event for one endpoint.
type WebhookArgs struct {
	EndpointID uuid.UUID `json:"endpoint_id"`
	Message    Message   `json:"message"`
}

// Kind names webhook jobs.
func (WebhookArgs) Kind() string { return "webhook" }

// Message is what a receiver gets: the JSON body {type, timestamp, data}
// of Standard Webhooks, data being the event as GET
// /v1/admin/security-events shows it. ID is the event's id, the
// webhook-id header, the same for every attempt.
type Message struct {
	ID        uuid.UUID          `json:"id"`
	Type      string             `json:"type"`
	Timestamp string             `json:"timestamp"`
	Data      services.EventView `json:"data"`
}

// NewMessage returns the message of ev.
func NewMessage(ev *models.SecurityEvent) Message {
	data := services.NewEventView(ev)
	return Message{ID: ev.ID, Type: ev.Type, Timestamp: data.CreatedAt, Data: data}
}

// Body returns the request body of m.
func (m Message) Body() ([]byte, error) {
	return json.Marshal(struct {
		Type      string             `json:"type"`
		Timestamp string             `json:"timestamp"`
		Data      services.EventView `json:"data"`
	}{m.Type, m.Timestamp, m.Data})
}

// Sign returns the webhook-signature header of Standard Webhooks: for each
// secret, "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" keyed
// with the secret's base64-decoded part after "whsec_", separated by
// spaces.
func Sign(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			return "", fmt.Errorf("webhook secret: %w", err)
		}
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%d.", id, timestamp)
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// WebhookOptions configure the webhook sink.
type WebhookOptions struct {
	// Guard checks every address a delivery connects to.
	Guard netguard.Guard
	// RetryBase is the first retry delay (default 5 s).
	RetryBase time.Duration
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Events records webhook_disabled.
	Events *services.Events
	Now    services.Clock
}

// Webhooks is the sink of webhook endpoints.
type Webhooks struct {
	db     *gorm.DB
	opts   WebhookOptions
	client *http.Client
}

// NewWebhooks returns the webhook sink.
func NewWebhooks(db *gorm.DB, opts WebhookOptions) *Webhooks {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = services.SystemClock
	}
	dialer := opts.Guard.Dialer()
	dialer.Timeout = opts.Timeout
	transport := &http.Transport{
		// No proxy from the environment: the guard must see the address
		// of the receiver, not of a proxy.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
	}
	// Single writes need no transaction of their own (GORM wraps each in
	// BEGIN and COMMIT by default): the delivery log's insert, once per
	// delivery, is one statement. The multi-statement writes run in an
	// explicit Transaction.
	db = db.Session(&gorm.Session{SkipDefaultTransaction: true})
	return &Webhooks{db: db, opts: opts, client: &http.Client{
		Transport: transport,
		Timeout:   opts.Timeout,
		// A redirect is a failed delivery: following it would send the
		// event to a URL nobody registered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Register adds the webhook worker.
func (w *Webhooks) Register(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, &webhookWorker{retrying: retrying[WebhookArgs]{base: w.opts.RetryBase}, w: w})
}

// Jobs returns one job per enabled endpoint subscribed to ev's type.
func (w *Webhooks) Jobs(ctx context.Context, tx *gorm.DB, ev *models.SecurityEvent) ([]river.InsertManyParams, error) {
	endpoints, err := models.EnabledWebhookEndpoints(ctx, tx)
	if err != nil || len(endpoints) == 0 {
		return nil, err
	}
	var out []river.InsertManyParams
	msg := NewMessage(ev)
	for _, e := range endpoints {
		if e.Subscribes(ev.Type) {
			out = append(out, river.InsertManyParams{Args: WebhookArgs{EndpointID: e.ID, Message: msg}})
		}
	}
	return out, nil
}

type webhookWorker struct {
	retrying[WebhookArgs]
	w *Webhooks
}

var errEndpointGone = errors.New("webhook endpoint deleted or disabled")

func (ww *webhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	w := ww.w
	e, err := models.FindWebhookEndpoint(ctx, w.db, job.Args.EndpointID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && !e.Enabled) {
		return river.JobCancel(errEndpointGone)
	} else if err != nil {
		return err
	}
	start := time.Now()
	status, sendErr := w.send(ctx, e, job.Args.Message)
	d := &models.WebhookDelivery{EndpointID: e.ID, EventID: job.Args.Message.ID, EventType: job.Args.Message.Type,
		Attempt: job.Attempt, Status: models.DeliverySucceeded, HTTPStatus: status,
		DurationMS: int(time.Since(start) / time.Millisecond), CreatedAt: w.opts.Now()}
	if sendErr != nil {
		d.Status, d.Error = models.DeliveryFailed, truncate(sendErr.Error(), 500)
	}
	if sendErr == nil && e.FailingSince == nil {
		// The common case, one statement: the endpoint was not failing
		// when read, so there is no streak to end (MarkWebhookSucceeded
		// would update nothing) and no transaction to wrap around the
		// insert. A streak that another attempt starts while this one is
		// in flight stays until the next success reads it (before, this
		// success ended it only if it committed after that failure).
		if err := models.InsertWebhookDelivery(ctx, w.db, d); err != nil {
			return err // the attempt is retried: the receiver deduplicates
		}
		return nil
	}
	disabled := false
	err = w.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := models.InsertWebhookDelivery(ctx, tx, d); err != nil {
			return err
		}
		if sendErr == nil {
			return models.MarkWebhookSucceeded(ctx, tx, e.ID)
		}
		now := w.opts.Now()
		since, err := models.MarkWebhookFailed(ctx, tx, e.ID, now)
		if err != nil || now.Sub(since) < FailureWindow {
			return err
		}
		ok, err := models.DisableWebhookEndpoint(ctx, tx, e.ID, now)
		if err != nil || !ok {
			return err
		}
		disabled = true
		return w.opts.Events.Record(ctx, tx, &models.SecurityEvent{Type: services.EventWebhookDisabled,
			Reason: "failing", Details: detailsJSON(map[string]any{"endpoint_id": e.ID.String(), "url": e.URL,
				"failing_since": since.UTC().Format(time.RFC3339Nano), "last_error": d.Error})})
	})
	if err != nil {
		return err // the attempt is retried: the receiver deduplicates
	}
	if disabled {
		return river.JobCancel(fmt.Errorf("endpoint disabled after %s of failures: %w", FailureWindow, sendErr))
	}
	return sendErr
}

func detailsJSON(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// send POSTs m to e, signed with its secret and, during a rotation's
// overlap, with the previous one too. Any status but 2xx is a failure.
func (w *Webhooks) send(ctx context.Context, e *models.WebhookEndpoint, m Message) (int, error) {
	body, err := m.Body()
	if err != nil {
		return 0, err
	}
	now := w.opts.Now()
	secrets := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousExpiresAt != nil && now.Before(*e.PreviousExpiresAt) {
		secrets = append(secrets, e.PreviousSecret)
	}
	ts := now.Unix()
	sig, err := Sign(secrets, m.ID.String(), ts, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "authd-webhooks")
	req.Header.Set("webhook-id", m.ID.String())
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
