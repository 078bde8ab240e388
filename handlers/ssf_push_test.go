package handlers_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
)

const urnPush = "urn:ietf:rfc:8935"

// pushReceiver is an RFC 8935 receiver on 127.0.0.1: it checks the
// request, verifies each SET on its own (ssfReceiverT.verify) and answers
// 202, after failing the first failFirst requests with 503.
type pushReceiver struct {
	srv       *httptest.Server
	failFirst int32
	calls     atomic.Int32
	sets      chan string
}

func newPushReceiver(t *testing.T, failFirst int32) *pushReceiver {
	t.Helper()
	p := &pushReceiver{failFirst: failFirst, sets: make(chan string, 100)}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/secevent+jwt" ||
			r.Header.Get("Authorization") != "Bearer push-secret" {
			http.Error(w, `{"err":"authentication_failed","description":"bad request"}`, http.StatusBadRequest)
			return
		}
		if n <= p.failFirst {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		p.sets <- string(body)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// await returns the claims of the first SET of type uri within limit.
func (p *pushReceiver) await(t *testing.T, rc *ssfReceiverT, uri string, limit time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case raw := <-p.sets:
			c := rc.verify(t, raw)
			if _, ok := c["events"].(map[string]any)[uri]; ok {
				return c
			}
		case <-deadline:
			t.Fatalf("no %s SET pushed within %s", uri, limit)
		}
	}
}

// TestSSF_ReuseDetectionByPush: a reuse detection reaches a push receiver
// as a session-revoked SET within 5 s, through the outbox; a verification
// SET is pushed too, and a receiver that fails first is retried.
func TestSSF_ReuseDetectionByPush(t *testing.T) {
	eachSSF(t, map[string]string{"AUTHD_WEBHOOK_ALLOW_PRIVATE": "true", "AUTHD_WEBHOOK_RETRY_BASE": "100ms"}, func(t *testing.T, s *apitest.Server) {
		rc := newReceiver(t, s, "https://receiver.example/push")
		if m := getJSON(t, s.URL+"/.well-known/ssf-configuration"); len(m["delivery_methods_supported"].([]any)) != 2 {
			t.Fatalf("delivery_methods_supported = %v, want push and poll", m["delivery_methods_supported"])
		}
		recv := newPushReceiver(t, 2)
		st := rc.createStream(t, map[string]any{"events_requested": []string{uriSessionRevoked},
			"delivery": map[string]string{"method": urnPush, "endpoint_url": recv.srv.URL + "/events", "authorization_header": "Bearer push-secret"}})
		if st.Delivery.Method != urnPush || st.Delivery.EndpointURL != recv.srv.URL+"/events" {
			t.Fatalf("stream delivery = %+v", st.Delivery)
		}
		if r := rc.do(t, "GET", "/ssf/stream?stream_id="+st.StreamID, nil); strings.Contains(string(r.Body), "push-secret") {
			t.Fatalf("the stream shows its authorization header: %s", r.Body)
		}
		if r := rc.do(t, "POST", "/ssf/verify", map[string]string{"stream_id": st.StreamID, "state": "push-state"}); r.Status != 204 {
			t.Fatalf("verify = %d %s", r.Status, r.Body)
		}
		c := recv.await(t, rc, uriVerification, 10*time.Second)
		if c["events"].(map[string]any)[uriVerification].(map[string]any)["state"] != "push-state" {
			t.Fatalf("verification = %v", c)
		}
		if n := recv.calls.Load(); n < 3 {
			t.Fatalf("the receiver saw %d requests, want the two failures retried", n)
		}

		_, tok := s.NewUser(t, "ssf-push")
		s.MustRefresh(t, tok.RefreshToken)
		if r := s.Refresh(t, tok.RefreshToken); r.Code() != "refresh_token_reused" {
			t.Fatalf("replay = %d %s", r.Status, r.Body)
		}
		detected := time.Now()
		c = recv.await(t, rc, uriSessionRevoked, 5*time.Second)
		if d := time.Since(detected); d > 5*time.Second {
			t.Fatalf("pushed after %s", d)
		}
		ev := c["events"].(map[string]any)[uriSessionRevoked].(map[string]any)
		if fmt.Sprint(ev["reason_admin"]) != "map[en:reuse_detected]" {
			t.Errorf("session-revoked = %v", ev)
		}
	})
}
