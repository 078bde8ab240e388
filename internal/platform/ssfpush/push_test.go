package ssfpush_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authd/authd/internal/platform/ssfpush"
)

func TestSend(t *testing.T) {
	var got struct{ ct, accept, authz, body string }
	status, answer := http.StatusAccepted, ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.ct, got.accept, got.authz, got.body = r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("Authorization"), string(b)
		if status == http.StatusFound {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	s := ssfpush.NewSender((&net.Dialer{}).DialContext, 2*time.Second)
	ctx := context.Background()

	if err := s.Send(ctx, srv.URL+"/events", "Bearer receiver-secret", "a.b.c"); err != nil {
		t.Fatalf("202: %v", err)
	}
	if got.ct != "application/secevent+jwt" || got.accept != "application/json" || got.authz != "Bearer receiver-secret" || got.body != "a.b.c" {
		t.Fatalf("request = %+v", got)
	}
	if err := s.Send(ctx, srv.URL, "", "a.b.c"); err != nil || got.authz != "" {
		t.Fatalf("without an authorization header: %v, sent %q", err, got.authz)
	}

	status, answer = http.StatusBadRequest, `{"err":"invalid_audience","description":"not for us"}`
	if err := s.Send(ctx, srv.URL, "", "a.b.c"); !errors.Is(err, ssfpush.ErrRejected) {
		t.Fatalf("400 invalid_audience = %v, want ErrRejected", err)
	}
	for _, st := range []int{http.StatusBadRequest, http.StatusServiceUnavailable, http.StatusFound} {
		status, answer = st, "not json"
		if err := s.Send(ctx, srv.URL, "", "a.b.c"); err == nil || errors.Is(err, ssfpush.ErrRejected) {
			t.Fatalf("%d = %v, want an error to retry", st, err)
		}
	}
}
