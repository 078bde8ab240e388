package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testutil"
	"github.com/authd/authd/models"
)

// webhookEnv lets the tests deliver to their loopback receivers, with
// quick retries.
var webhookEnv = map[string]string{
	"AUTHD_WEBHOOK_ALLOW_PRIVATE": "true",
	"AUTHD_WEBHOOK_RETRY_BASE":    "50ms",
}

type createdWebhook struct {
	ID                      string   `json:"id"`
	URL                     string   `json:"url"`
	EventTypes              []string `json:"event_types"`
	Enabled                 bool     `json:"enabled"`
	Secret                  string   `json:"secret"`
	PreviousSecretExpiresAt *string  `json:"previous_secret_expires_at"`
}

func addWebhook(t *testing.T, s *apitest.Server, admin apitest.Tokens, url string, types ...string) createdWebhook {
	t.Helper()
	r := s.Do(t, "POST", "/v1/admin/webhooks", map[string]any{"url": url, "event_types": types, "description": "test"},
		apitest.Bearer(admin.AccessToken))
	if r.Status != 201 {
		t.Fatalf("POST /v1/admin/webhooks = %d %s, want 201", r.Status, r.Body)
	}
	var w createdWebhook
	r.JSON(t, &w)
	if !strings.HasPrefix(w.Secret, "whsec_") || !w.Enabled {
		t.Fatalf("created webhook = %+v, want an enabled endpoint with a whsec_ secret", w)
	}
	return w
}

// failingWebhook has an admin register a session_revoked webhook whose
// receiver, on the test clock, fails every delivery until FailNext(0).
func failingWebhook(t *testing.T, s *apitest.Server, clock *apitest.Clock) (*testutil.WebhookReceiver, apitest.Tokens, createdWebhook) {
	t.Helper()
	recv := testutil.NewWebhookReceiver(t)
	recv.Now = clock.Now
	_, admin := newAdmin(t, s)
	wh := addWebhook(t, s, admin, recv.URL, "session_revoked")
	recv.SetSecrets(wh.Secret)
	recv.FailNext(1 << 20)
	return recv, admin, wh
}

type deliveryList struct {
	Deliveries []struct {
		EventID    string `json:"event_id"`
		EventType  string `json:"event_type"`
		Attempt    int    `json:"attempt"`
		Status     string `json:"status"`
		HTTPStatus int    `json:"http_status"`
	} `json:"deliveries"`
}

// A receiver that fails the first three attempts gets the event, signed
// (checked by the receiver's own Standard Webhooks verifier), exactly once
// after deduplication; events of types it did not subscribe to never come;
// the deliveries endpoint lists the four attempts; the secret is shown only
// at creation.
func TestWebhooks_SignedDeliveryWithRetries(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: webhookEnv}, func(t *testing.T, s *apitest.Server) {
		recv := testutil.NewWebhookReceiver(t)
		_, admin := newAdmin(t, s)
		wh := addWebhook(t, s, admin, recv.URL, "session_revoked")
		recv.SetSecrets(wh.Secret)
		recv.FailNext(3)

		r := s.Do(t, "GET", "/v1/admin/webhooks", nil, apitest.Bearer(admin.AccessToken))
		if r.Status != 200 || strings.Contains(string(r.Body), wh.Secret) || strings.Contains(string(r.Body), "whsec_") {
			t.Fatalf("GET /v1/admin/webhooks = %d %s: want 200 without any secret", r.Status, r.Body)
		}

		_, user := s.NewUser(t, "hooked")
		if r := s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": user.RefreshToken}); r.Status != 204 {
			t.Fatalf("logout = %d %s", r.Status, r.Body)
		}
		recv.WaitFor(t, 20*time.Second, "the session_revoked delivery", func() bool { return len(recv.Messages()) == 1 })
		m := recv.Messages()[0]
		var data struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			Reason    string `json:"reason"`
			SessionID string `json:"session_id"`
		}
		if err := json.Unmarshal(m.Data, &data); err != nil {
			t.Fatal(err)
		}
		if m.Type != "session_revoked" || data.Reason != "logout" || data.SessionID != user.SessionID || data.ID != m.ID {
			t.Errorf("message = %+v data %+v, want session_revoked/logout of session %s with webhook-id = event id", m, data, user.SessionID)
		}
		if m.Attempts != 1 || recv.Requests() != 4 {
			t.Errorf("accepted %d times out of %d requests, want once after 3 failures", m.Attempts, recv.Requests())
		}
		if bad := recv.Bad(); len(bad) > 0 {
			t.Errorf("requests that failed verification: %v", bad)
		}

		// The worker records the attempt after the receiver answered.
		var dl deliveryList
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			dl = deliveryList{}
			s.Do(t, "GET", "/v1/admin/webhooks/"+wh.ID+"/deliveries", nil, apitest.Bearer(admin.AccessToken)).JSON(t, &dl)
			if len(dl.Deliveries) >= 4 || time.Now().After(deadline) {
				break
			}
		}
		var failed, ok int
		for _, d := range dl.Deliveries {
			if d.EventID != m.ID {
				t.Errorf("delivery of %s, want only %s", d.EventID, m.ID)
			}
			switch {
			case d.Status == "failed" && d.HTTPStatus == 500:
				failed++
			case d.Status == "succeeded" && d.HTTPStatus == 204 && d.Attempt == 4:
				ok++
			}
		}
		if failed != 3 || ok != 1 {
			t.Errorf("deliveries = %+v, want 3 failed (500) and the 4th attempt succeeded", dl.Deliveries)
		}
		// The login of the user (login_succeeded) was not subscribed to.
		time.Sleep(300 * time.Millisecond)
		if n := len(recv.Messages()); n != 1 {
			t.Errorf("%d messages, want only the subscribed one", n)
		}
	})
}

// An event recorded in a transaction that rolls back is never delivered:
// its job is inserted in the same transaction; one committed after it is.
func TestWebhooks_NothingForRolledBackChange(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: webhookEnv}, func(t *testing.T, s *apitest.Server) {
		recv := testutil.NewWebhookReceiver(t)
		_, admin := newAdmin(t, s)
		recv.SetSecrets(addWebhook(t, s, admin, recv.URL, "*").Secret)
		ctx := context.Background()
		db := s.App.DB().DB
		rolledBack := &models.SecurityEvent{ID: uuid.Must(uuid.NewV7()), Type: "password_changed"}
		errAbort := errors.New("abort")
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := s.App.Events().Record(ctx, tx, rolledBack); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("transaction = %v", err)
		}
		committed := &models.SecurityEvent{ID: uuid.Must(uuid.NewV7()), Type: "password_changed"}
		testdbMust(t, db.Transaction(func(tx *gorm.DB) error { return s.App.Events().Record(ctx, tx, committed) }))
		recv.WaitFor(t, 20*time.Second, "the committed event", func() bool {
			for _, m := range recv.Messages() {
				if m.ID == committed.ID.String() {
					return true
				}
			}
			return false
		})
		time.Sleep(500 * time.Millisecond)
		for _, m := range recv.Messages() {
			if m.ID == rolledBack.ID.String() {
				t.Fatal("the event of the rolled-back transaction was delivered")
			}
		}
		var jobs int64
		testdbMust(t, db.Raw("SELECT count(*) FROM river_job WHERE CAST(args AS TEXT) LIKE ?", "%"+rolledBack.ID.String()+"%").Scan(&jobs).Error)
		if jobs != 0 {
			t.Errorf("%d river jobs for the rolled-back event, want 0", jobs)
		}
	})
}

func testdbMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A rotation returns a new secret; during the overlap every message
// carries two signatures, each verifying with one secret alone; after it,
// one.
func TestWebhooks_SecretRotationOverlap(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: webhookEnv}, func(t *testing.T, s *apitest.Server) {
		recv := testutil.NewWebhookReceiver(t)
		_, admin := newAdmin(t, s)
		wh := addWebhook(t, s, admin, recv.URL, "session_revoked")
		r := s.Do(t, "POST", "/v1/admin/webhooks/"+wh.ID+"/rotate-secret", map[string]int{"overlap_seconds": 2}, apitest.Bearer(admin.AccessToken))
		if r.Status != 200 {
			t.Fatalf("rotate = %d %s", r.Status, r.Body)
		}
		var rotated createdWebhook
		r.JSON(t, &rotated)
		if rotated.Secret == wh.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.PreviousSecretExpiresAt == nil {
			t.Fatalf("rotated = %+v, want a new secret and the overlap's end", rotated)
		}
		revoke := func(name string) string {
			_, u := s.NewUser(t, name)
			s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": u.RefreshToken})
			return u.SessionID
		}
		for _, secrets := range [][]string{{wh.Secret}, {rotated.Secret}} {
			recv.SetSecrets(secrets...)
			before := len(recv.Messages())
			revoke("overlap")
			recv.WaitFor(t, 20*time.Second, "a message verified by one secret alone", func() bool { return len(recv.Messages()) == before+1 })
			if m := recv.Messages()[before]; recv.Signatures(m.ID) != 2 {
				t.Errorf("%d signatures during the overlap, want 2", recv.Signatures(m.ID))
			}
		}
		time.Sleep(2100 * time.Millisecond)
		recv.SetSecrets(rotated.Secret)
		before := len(recv.Messages())
		revoke("after")
		recv.WaitFor(t, 20*time.Second, "a message after the overlap", func() bool { return len(recv.Messages()) == before+1 })
		if m := recv.Messages()[before]; recv.Signatures(m.ID) != 1 {
			t.Errorf("%d signatures after the overlap, want 1", recv.Signatures(m.ID))
		}
		if bad := recv.Bad(); len(bad) > 0 {
			t.Errorf("requests that failed verification: %v", bad)
		}
	})
}

// Creating, rotating and deleting endpoints needs a fresh admin token
// (checked before any look-up); listing does not.
func TestWebhooks_NeedFreshToken(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: webhookEnv}, func(t *testing.T, s *apitest.Server) {
		_, login := newAdmin(t, s)
		wh := addWebhook(t, s, login, "http://127.0.0.1:9/hook", "*")
		stale := s.MustRefresh(t, login.RefreshToken)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/admin/webhooks", map[string]any{"url": "http://127.0.0.1:9/x", "event_types": []string{"*"}}},
			{"DELETE", "/v1/admin/webhooks/" + wh.ID, nil},
			{"DELETE", "/v1/admin/webhooks/" + uuid.NewString(), nil},
			{"POST", "/v1/admin/webhooks/" + wh.ID + "/rotate-secret", nil},
		} {
			if r := s.Do(t, c.method, c.path, c.body, apitest.Bearer(stale.AccessToken)); r.Status != 401 || r.Code() != "fresh_token_required" {
				t.Errorf("%s %s with a refreshed token = %d %q, want 401 fresh_token_required", c.method, c.path, r.Status, r.Code())
			}
		}
		if r := s.Do(t, "GET", "/v1/admin/webhooks/"+wh.ID, nil, apitest.Bearer(stale.AccessToken)); r.Status != 200 {
			t.Errorf("GET with a refreshed token = %d, want 200", r.Status)
		}
		if r := s.Do(t, "DELETE", "/v1/admin/webhooks/"+wh.ID, nil, apitest.Bearer(login.AccessToken)); r.Status != 204 {
			t.Errorf("DELETE with a fresh token = %d %s, want 204", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", "/v1/admin/webhooks/"+wh.ID, nil, apitest.Bearer(login.AccessToken)); r.Status != 404 {
			t.Errorf("GET after DELETE = %d, want 404", r.Status)
		}
		_, user := s.NewUser(t, "plain")
		if r := s.Do(t, "GET", "/v1/admin/webhooks", nil, apitest.Bearer(user.AccessToken)); r.Status != 403 {
			t.Errorf("GET by a user = %d, want 403", r.Status)
		}
		for _, bad := range []map[string]any{
			{"url": "ftp://example.com/x", "event_types": []string{"*"}},
			{"url": "http://127.0.0.1:9/x", "event_types": []string{"Not A Type"}},
			{"url": "http://127.0.0.1:9/x"},
		} {
			if r := s.Do(t, "POST", "/v1/admin/webhooks", bad, apitest.Bearer(login.AccessToken)); r.Status != 400 || r.Code() != "invalid_request" {
				t.Errorf("POST %v = %d %q, want 400 invalid_request", bad, r.Status, r.Code())
			}
		}
	})
}

// An endpoint that has failed for 24 hours is disabled, with a
// webhook_disabled event, and gets no more attempts.
func TestWebhooks_DisabledAfterADayOfFailures(t *testing.T) {
	clock := apitest.NewClock()
	apitest.Each(t, apitest.Options{Env: webhookEnv, Clock: clock}, func(t *testing.T, s *apitest.Server) {
		recv, admin, wh := failingWebhook(t, s, clock)
		_, u := s.NewUser(t, "down")
		s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": u.RefreshToken})
		recv.WaitFor(t, 20*time.Second, "a failed attempt", func() bool { return recv.Requests() >= 2 })
		clock.Advance(24*time.Hour + time.Minute)
		admin = s.Login(t, admin.User.Email, apitest.Password) // the old token expired
		var got createdWebhook
		deadline := time.Now().Add(20 * time.Second)
		for {
			r := s.Do(t, "GET", "/v1/admin/webhooks/"+wh.ID, nil, apitest.Bearer(admin.AccessToken))
			if r.Status != 200 {
				t.Fatalf("GET webhook = %d %s", r.Status, r.Body)
			}
			r.JSON(t, &got)
			if !got.Enabled || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got.Enabled {
			t.Fatal("the endpoint is still enabled after a day of failures")
		}
		var events eventList
		s.Do(t, "GET", "/v1/admin/security-events?type=webhook_disabled", nil, apitest.Bearer(admin.AccessToken)).JSON(t, &events)
		if len(events.Events) != 1 || events.Events[0].Details["endpoint_id"] != wh.ID {
			t.Fatalf("webhook_disabled events = %+v, want one naming %s", events.Events, wh.ID)
		}
		n := recv.Requests()
		time.Sleep(500 * time.Millisecond)
		if recv.Requests() != n {
			t.Errorf("%d more attempts after the endpoint was disabled", recv.Requests()-n)
		}
	})
}
