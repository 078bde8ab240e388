// Package ssfpush delivers Security Event Tokens by push (RFC 8935): one
// POST of the SET as application/secevent+jwt to the receiver's endpoint,
// which answers 202 Accepted, or 400 with {err, description} for a SET it
// will never take (not worth retrying).
package ssfpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ErrRejected wraps a receiver's refusal of a SET (RFC 8935 §2.3): the
// same SET would be refused again, so it is not retried.
var ErrRejected = errors.New("receiver rejected the SET")

// Sender POSTs SETs.
type Sender struct {
	client *http.Client
}

// NewSender returns a sender whose connections go through dial (the SSRF
// guard's dialer, which checks every address it connects to); timeout
// bounds one attempt.
func NewSender(dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	transport := &http.Transport{
		// No proxy from the environment: the guard must see the
		// receiver's address, not a proxy's.
		Proxy:                 nil,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &Sender{client: &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// A redirect is a failed delivery: following it would send the SET
		// to a URL the receiver did not configure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Send POSTs set to endpoint with the stream's authorization header (none
// when empty). A 2xx is delivered (RFC 8935 asks for 202; 200 and 204 are
// taken too); a 400 with an RFC 8935 error body wraps ErrRejected; anything
// else is an error to retry.
func (s *Sender) Send(ctx context.Context, endpoint, authorization, set string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(set))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "authd-ssf")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	if resp.StatusCode == http.StatusBadRequest {
		var e struct {
			Err         string `json:"err"`
			Description string `json:"description"`
		}
		if json.NewDecoder(bytes.NewReader(body)).Decode(&e) == nil && e.Err != "" {
			return fmt.Errorf("%w: %s: %.200s", ErrRejected, e.Err, e.Description)
		}
	}
	return fmt.Errorf("receiver answered %d", resp.StatusCode)
}
