package faults

import (
	"encoding/json"
	"fmt"
	"github.com/authd/authd/internal/apitest"
	"os/exec"
	"regexp"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/authd/authd/internal/testutil"
)

// The outbox across a kill -9: authd is killed while a delivery is in
// flight, the receiver then fails its next three requests, and a new
// instance finishes the work. The receiver (its own Standard Webhooks
// verifier) sees every committed session_revoked exactly once after
// deduplication by webhook-id, all of them, and nothing it cannot verify.
func TestWebhookDeliveryAcrossKill9(t *testing.T) {
	db := dbURL(t)
	recv := testutil.NewWebhookReceiver(t)
	env := map[string]string{
		"AUTHD_DATABASE_URL":          db,
		"AUTHD_WEBHOOK_ALLOW_PRIVATE": "true",
		"AUTHD_WEBHOOK_RETRY_BASE":    "100ms",
		"AUTHD_OUTBOX_RESCUE_AFTER":   "4s",
	}
	a := startAuthd(t, "a", env)

	// Register the endpoint with the command line, on the same database.
	add := exec.Command(authdBin, "webhook", "add", "--url", recv.URL, "--event-types", "session_revoked")
	add.Env = []string{}
	for k, v := range apitest.ServeEnv(env) {
		add.Env = append(add.Env, k+"="+v)
	}
	out, err := add.CombinedOutput()
	if err != nil {
		t.Fatalf("authd webhook add: %v\n%s", err, out)
	}
	secret := regexp.MustCompile(`whsec_\S+`).FindString(string(out))
	recv.SetSecrets(secret)
	recv.Hold()

	const n = 8
	email := fmt.Sprintf("kill9-%d@example.com", time.Now().UnixNano())
	if st := testutil.PostJSON(t, a.URL+"/v1/auth/register", map[string]string{"email": email, "password": "correct horse battery staple 42"}, nil); st != 201 {
		t.Fatalf("register = %d", st)
	}
	var sessions []string
	for range n {
		var tok struct {
			RefreshToken string `json:"refresh_token"`
			SessionID    string `json:"session_id"`
		}
		if st := testutil.PostJSON(t, a.URL+"/v1/auth/login", map[string]string{"email": email, "password": "correct horse battery staple 42"}, &tok); st != 200 {
			t.Fatalf("login = %d", st)
		}
		if st := testutil.PostJSON(t, a.URL+"/v1/auth/logout", map[string]string{"refresh_token": tok.RefreshToken}, nil); st != 204 {
			t.Fatalf("logout = %d", st)
		}
		sessions = append(sessions, tok.SessionID)
	}
	recv.WaitFor(t, 20*time.Second, "a delivery in flight", func() bool { return recv.Requests() >= 1 })
	a.Signal(t, syscall.SIGKILL)
	if exited, _ := a.Wait(10 * time.Second); !exited {
		t.Fatal("authd did not die")
	}
	recv.FailNext(3)
	recv.Release()

	startAuthd(t, "b", env)
	recv.WaitFor(t, 90*time.Second, "every event", func() bool { return len(recv.Messages()) >= n })
	time.Sleep(time.Second) // a duplicate would show now

	var got []string
	for _, m := range recv.Messages() {
		var data struct {
			SessionID string `json:"session_id"`
		}
		_ = json.Unmarshal(m.Data, &data)
		got = append(got, data.SessionID)
	}
	sort.Strings(got)
	sort.Strings(sessions)
	if fmt.Sprint(got) != fmt.Sprint(sessions) {
		t.Errorf("delivered sessions %v, want each of %v once", got, sessions)
	}
	if bad := recv.Bad(); len(bad) > 0 {
		t.Errorf("requests that failed verification: %v", bad)
	}
	t.Logf("%d events, %d requests (the killed one, 3 refused, redeliveries)", n, recv.Requests())

	sqlDB := openSQL(t, db)
	if left := countWhere(t, sqlDB, "SELECT count(*) FROM river_job WHERE kind = 'webhook' AND state NOT IN ('completed')"); left != 0 {
		t.Errorf("%d webhook jobs not completed", left)
	}
}
