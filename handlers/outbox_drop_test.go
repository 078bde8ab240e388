package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/authd/authd/internal/apitest"
)

// These tests cover what the outbox's workers do with a delivery whose
// receiver changed after it was queued (River's JobSnooze and JobCancel in
// internal/platform/outbox): a paused SSF stream holds its SETs until it is
// enabled; a disabled, deleted or no longer push stream's queued SETs are
// dropped, as is a SET the receiver rejected (RFC 8935); a deleted or
// disabled webhook endpoint gets none of its queued events. Each test looks
// at the outbox's River jobs to know when a worker has decided.

// pushEnv delivers to loopback receivers with quick retries (and so a
// paused stream's jobs look again every 300 ms).
var pushEnv = map[string]string{"AUTHD_WEBHOOK_ALLOW_PRIVATE": "true", "AUTHD_WEBHOOK_RETRY_BASE": "100ms"}

// outboxJobs returns the outbox's jobs of kind whose args have member
// (stream_id, endpoint_id) equal to id.
func outboxJobs(t *testing.T, s *apitest.Server, kind, member, id string) []*rivertype.JobRow {
	t.Helper()
	res, err := s.App.Outbox().Client().JobList(context.Background(), river.NewJobListParams().Kinds(kind).First(1000))
	if err != nil {
		t.Fatalf("list %s jobs: %v", kind, err)
	}
	var out []*rivertype.JobRow
	for _, j := range res.Jobs {
		var args map[string]any
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
			t.Fatalf("job %d args: %v", j.ID, err)
		}
		if args[member] == id {
			out = append(out, j)
		}
	}
	return out
}

func snoozes(j *rivertype.JobRow) int {
	var m struct{ Snoozes int }
	_ = json.Unmarshal(j.Metadata, &m)
	return m.Snoozes
}

func final(j *rivertype.JobRow) bool {
	switch j.State {
	case rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded:
		return true
	}
	return false
}

func describeJobs(jobs []*rivertype.JobRow) string {
	s := ""
	for _, j := range jobs {
		s += fmt.Sprintf(" [%d %s attempt %d snoozes %d errors %d]", j.ID, j.State, j.Attempt, snoozes(j), len(j.Errors))
	}
	return s
}

// awaitJobs waits until cond holds for the jobs of kind for id.
func awaitJobs(t *testing.T, s *apitest.Server, kind, member, id, what string, limit time.Duration, cond func([]*rivertype.JobRow) bool) []*rivertype.JobRow {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		jobs := outboxJobs(t, s, kind, member, id)
		if cond(jobs) {
			return jobs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; jobs:%s", what, limit, describeJobs(jobs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allCancelled holds when there are n jobs and every one was cancelled.
func allCancelled(n int) func([]*rivertype.JobRow) bool {
	return func(jobs []*rivertype.JobRow) bool {
		if len(jobs) != n {
			return false
		}
		for _, j := range jobs {
			if j.State != rivertype.JobStateCancelled {
				return false
			}
		}
		return true
	}
}

// allFinal holds when there are n jobs and none will run again.
func allFinal(n int) func([]*rivertype.JobRow) bool {
	return func(jobs []*rivertype.JobRow) bool {
		if len(jobs) != n {
			return false
		}
		for _, j := range jobs {
			if !final(j) {
				return false
			}
		}
		return true
	}
}

// heldTwice holds when there are n jobs, each waiting after it looked at a
// paused stream at least twice.
func heldTwice(n int) func([]*rivertype.JobRow) bool {
	return func(jobs []*rivertype.JobRow) bool {
		if len(jobs) != n {
			return false
		}
		for _, j := range jobs {
			if final(j) || snoozes(j) < 2 {
				return false
			}
		}
		return true
	}
}

func setStreamStatus(t *testing.T, rc *ssfReceiverT, st streamT, status string) {
	t.Helper()
	if r := rc.do(t, "POST", "/ssf/status", map[string]string{"stream_id": st.StreamID, "status": status}); r.Status != 200 {
		t.Fatalf("status %s = %d %s", status, r.Status, r.Body)
	}
}

func pushStream(t *testing.T, rc *ssfReceiverT, url string) streamT {
	t.Helper()
	return rc.createStream(t, map[string]any{"events_requested": []string{uriSessionRevoked},
		"delivery": map[string]string{"method": urnPush, "endpoint_url": url, "authorization_header": "Bearer push-secret"}})
}

// logoutUser signs a new user in and out: one session_revoked event.
func logoutUser(t *testing.T, s *apitest.Server, name string) {
	t.Helper()
	_, u := s.NewUser(t, name)
	if r := s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": u.RefreshToken}); r.Status != 204 {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
}

// received verifies every SET the receiver got so far and returns them
// by event type (a stream-updated SET as "stream-updated:<status>").
func (p *pushReceiver) received(t *testing.T, rc *ssfReceiverT) map[string]int {
	t.Helper()
	got := map[string]int{}
	for {
		select {
		case raw := <-p.sets:
			for uri, body := range rc.verify(t, raw)["events"].(map[string]any) {
				if uri == uriStreamUpdated {
					uri = "stream-updated:" + fmt.Sprint(body.(map[string]any)["status"])
				}
				got[uri]++
			}
		default:
			return got
		}
	}
}

// TestSSF_PushPausedStreamHoldsItsSETs: the SETs of a paused push stream
// (its own stream-updated SET included) are not sent while it is paused;
// their jobs wait and look again; once the stream is enabled, each is
// delivered.
func TestSSF_PushPausedStreamHoldsItsSETs(t *testing.T) {
	eachSSF(t, pushEnv, func(t *testing.T, s *apitest.Server) {
		rc := newReceiver(t, s, "https://receiver.example/push")
		recv := newPushReceiver(t, 0)
		st := pushStream(t, rc, recv.srv.URL+"/events")
		setStreamStatus(t, rc, st, "paused")
		logoutUser(t, s, "paused")

		awaitJobs(t, s, "ssf_push", "stream_id", st.StreamID, "both SETs held by the paused stream", 20*time.Second, heldTwice(2))
		if n := recv.calls.Load(); n != 0 {
			t.Fatalf("the receiver got %d requests while its stream was paused", n)
		}

		setStreamStatus(t, rc, st, "enabled")
		awaitJobs(t, s, "ssf_push", "stream_id", st.StreamID, "every SET delivered after enabling", 20*time.Second, func(jobs []*rivertype.JobRow) bool {
			if len(jobs) != 3 {
				return false
			}
			for _, j := range jobs {
				if j.State != rivertype.JobStateCompleted {
					return false
				}
			}
			return true
		})
		got := recv.received(t, rc)
		want := map[string]int{uriSessionRevoked: 1, "stream-updated:paused": 1, "stream-updated:enabled": 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after enabling, the receiver got %v, want %v", got, want)
		}
	})
}

// TestSSF_PushQueuedSETsDroppedWhenStreamGoes: a SET queued for a push
// stream (held while the stream is paused) is dropped, never sent, when
// the stream is then disabled, deleted or switched to poll: its job is
// cancelled, and enabling the stream again does not bring it back.
func TestSSF_PushQueuedSETsDroppedWhenStreamGoes(t *testing.T) {
	eachSSF(t, pushEnv, func(t *testing.T, s *apitest.Server) {
		rc := newReceiver(t, s, "https://receiver.example/push")
		for _, change := range []string{"disabled", "deleted", "poll"} {
			t.Run(change, func(t *testing.T) {
				recv := newPushReceiver(t, 0)
				st := pushStream(t, rc, recv.srv.URL+"/events")
				setStreamStatus(t, rc, st, "paused")
				logoutUser(t, s, "dropped-"+change)
				awaitJobs(t, s, "ssf_push", "stream_id", st.StreamID, "the SETs held", 20*time.Second, heldTwice(2))

				queued := 2
				switch change {
				case "disabled":
					setStreamStatus(t, rc, st, "disabled")
					queued++ // its own stream-updated SET: dropped too, the stream being disabled
				case "deleted":
					if r := rc.do(t, "DELETE", "/ssf/stream?stream_id="+st.StreamID, nil); r.Status != 204 {
						t.Fatalf("delete = %d %s", r.Status, r.Body)
					}
				case "poll":
					if r := rc.do(t, "PATCH", "/ssf/stream", map[string]any{"stream_id": st.StreamID,
						"delivery": map[string]string{"method": urnPoll}}); r.Status != 200 {
						t.Fatalf("patch to poll = %d %s", r.Status, r.Body)
					}
				}
				awaitJobs(t, s, "ssf_push", "stream_id", st.StreamID, "the queued SETs dropped", 20*time.Second, allCancelled(queued))
				if n := recv.calls.Load(); n != 0 {
					t.Fatalf("the receiver got %d requests", n)
				}

				switch change {
				case "disabled":
					setStreamStatus(t, rc, st, "enabled")
					awaitJobs(t, s, "ssf_push", "stream_id", st.StreamID, "the enabled SET sent", 20*time.Second, allFinal(queued+1))
					got := recv.received(t, rc)
					if got[uriSessionRevoked] != 0 || got["stream-updated:enabled"] != 1 {
						t.Fatalf("after enabling again, the receiver got %v, want only the stream-updated SET", got)
					}
				case "poll":
					setStreamStatus(t, rc, st, "enabled")
					st.Delivery.Method, st.Delivery.EndpointURL = urnPoll, s.URL+"/ssf/poll/"+st.StreamID
					for _, raw := range rc.poll(t, st, map[string]any{"returnImmediately": true}).Sets {
						if _, ok := rc.verify(t, raw)["events"].(map[string]any)[uriSessionRevoked]; ok {
							t.Fatal("the SET queued for push is handed out by poll")
						}
					}
					if n := len(outboxJobs(t, s, "ssf_push", "stream_id", st.StreamID)); n != queued {
						t.Fatalf("%d push jobs for a poll stream, want the %d dropped ones", n, queued)
					}
				}
			})
		}
	})
}

// TestSSF_PushRejectedSETIsNotRetried: a receiver's RFC 8935 error (a 400
// with {err, description}) drops the SET after one attempt; a 400 without
// that body is an ordinary failure and is retried.
func TestSSF_PushRejectedSETIsNotRetried(t *testing.T) {
	eachSSF(t, pushEnv, func(t *testing.T, s *apitest.Server) {
		rc := newReceiver(t, s, "https://receiver.example/push")
		for _, tc := range []struct {
			name, body string
			rejected   bool
		}{
			{"rfc8935 error", `{"err":"invalid_key","description":"unknown kid"}`, true},
			{"plain 400", "bad request", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var calls atomic.Int32
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprint(w, tc.body)
				}))
				defer srv.Close()
				st := pushStream(t, rc, srv.URL+"/events")
				if r := rc.do(t, "POST", "/ssf/verify", map[string]string{"stream_id": st.StreamID}); r.Status != 204 {
					t.Fatalf("verify = %d %s", r.Status, r.Body)
				}
				if tc.rejected {
					jobs := awaitJobs(t, s, "ssf_push", "stream_id", st.StreamID, "the rejected SET dropped", 20*time.Second, allCancelled(1))
					time.Sleep(500 * time.Millisecond) // five retry bases: a retry would have come
					if n := calls.Load(); n != 1 || jobs[0].Attempt != 1 {
						t.Fatalf("%d requests, attempt %d: want the one that was rejected", n, jobs[0].Attempt)
					}
					return
				}
				jobs := awaitJobs(t, s, "ssf_push", "stream_id", st.StreamID, "the failed SET retried", 20*time.Second, func(jobs []*rivertype.JobRow) bool {
					return len(jobs) == 1 && len(jobs[0].Errors) >= 2
				})
				if final(jobs[0]) {
					t.Fatalf("the job of a plain 400 is %s, want it retried", jobs[0].State)
				}
			})
		}
	})
}

// TestWebhooks_QueuedEventsOfAGoneEndpointAreDropped: an event queued
// for an endpoint whose receiver is failing is not delivered once an admin
// deletes the endpoint, or once it is disabled after a day of failures,
// even when the receiver comes back: its jobs are cancelled.
func TestWebhooks_QueuedEventsOfAGoneEndpointAreDropped(t *testing.T) {
	for _, change := range []string{"deleted", "disabled"} {
		t.Run(change, func(t *testing.T) {
			clock := apitest.NewClock()
			apitest.Each(t, apitest.Options{Env: webhookEnv, Clock: clock}, func(t *testing.T, s *apitest.Server) {
				recv, admin, wh := failingWebhook(t, s, clock)
				logoutUser(t, s, "gone-1")
				logoutUser(t, s, "gone-2")
				awaitJobs(t, s, "webhook", "endpoint_id", wh.ID, "both events attempted", 20*time.Second, func(jobs []*rivertype.JobRow) bool {
					return len(jobs) == 2 && len(jobs[0].Errors) >= 1 && len(jobs[1].Errors) >= 1
				})

				switch change {
				case "deleted":
					if r := s.Do(t, "DELETE", "/v1/admin/webhooks/"+wh.ID, nil, apitest.Bearer(admin.AccessToken)); r.Status != 204 {
						t.Fatalf("delete webhook = %d %s", r.Status, r.Body)
					}
				case "disabled":
					clock.Advance(24*time.Hour + time.Minute)
					// The next failed attempt disables the endpoint and
					// cancels its own job.
					awaitJobs(t, s, "webhook", "endpoint_id", wh.ID, "the endpoint disabled", 20*time.Second, func(jobs []*rivertype.JobRow) bool {
						return len(jobs) == 2 && (jobs[0].State == rivertype.JobStateCancelled || jobs[1].State == rivertype.JobStateCancelled)
					})
				}
				recv.FailNext(0)
				awaitJobs(t, s, "webhook", "endpoint_id", wh.ID, "both queued events dropped", 20*time.Second, allCancelled(2))
				if m := recv.Messages(); len(m) != 0 {
					t.Fatalf("the %s endpoint's receiver got %d events", change, len(m))
				}
			})
		})
	}
}
