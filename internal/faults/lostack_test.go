package faults

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authd/authd/bench/load"
	"github.com/authd/authd/internal/faultproxy"
)

// ackCutter is the fault proxy's protocol-aware pipe for PostgreSQL: it
// reads the wire protocol in both directions. While armed, it forwards the
// CommandComplete that answers a statement whose text contains marker, then
// closes both sides before anything else gets through: the statement
// committed (an implicit transaction commits at Sync, before the server
// flushes its answer), but the client never learns it (a lost
// acknowledgement).
type ackCutter struct {
	*faultproxy.Proxy
	marker string
	armed  atomic.Int32 // cuts left
	cuts   atomic.Int32 // cuts made
}

func startAckCutter(t *testing.T, target, marker string) *ackCutter {
	t.Helper()
	p := &ackCutter{marker: marker}
	p.Proxy = faultproxy.Start(t, target, p.serve)
	return p
}

// arm makes the proxy cut after the next n acknowledgements of the marked
// statement.
func (p *ackCutter) arm(n int32) { p.armed.Store(n) }

// takeCut uses up one armed cut, if any is left.
func (p *ackCutter) takeCut() bool {
	for {
		n := p.armed.Load()
		if n <= 0 {
			return false
		}
		if p.armed.CompareAndSwap(n, n-1) {
			p.cuts.Add(1)
			return true
		}
	}
}

func (p *ackCutter) serve(client, server net.Conn) {
	var (
		mu      sync.Mutex
		marked  = map[string]bool{} // prepared statements whose text has the marker
		pending atomic.Bool         // a marked statement awaits its CommandComplete
	)
	done := make(chan struct{}, 2)
	go func() { // client -> server
		defer func() { server.Close(); done <- struct{}{} }()
		r := bufio.NewReader(client)
		// The startup message has no type byte (sslmode=disable: no SSLRequest).
		if err := copyUntyped(r, server); err != nil {
			return
		}
		for {
			typ, msg, err := readTyped(r)
			if err != nil {
				return
			}
			body := msg[5:]
			switch typ {
			case 'P': // Parse: name, query
				name, rest := cstring(body)
				query, _ := cstring(rest)
				mu.Lock()
				marked[name] = strings.Contains(query, p.marker)
				mu.Unlock()
			case 'B': // Bind: portal, statement
				_, rest := cstring(body)
				stmt, _ := cstring(rest)
				mu.Lock()
				if marked[stmt] {
					pending.Store(true)
				}
				mu.Unlock()
			case 'Q': // simple query
				if q, _ := cstring(body); strings.Contains(q, p.marker) {
					pending.Store(true)
				}
			}
			if _, err := server.Write(msg); err != nil {
				return
			}
		}
	}()
	go func() { // server -> client
		defer func() { client.Close(); done <- struct{}{} }()
		r := bufio.NewReader(server)
		for {
			typ, msg, err := readTyped(r)
			if err != nil {
				return
			}
			if _, err := client.Write(msg); err != nil {
				return
			}
			switch typ {
			case 'C':
				if pending.Load() && p.takeCut() {
					server.Close()
					return
				}
			case 'Z':
				pending.Store(false)
			}
		}
	}()
	<-done
	<-done
}

// copyUntyped forwards one length-prefixed message without a type byte.
func copyUntyped(r *bufio.Reader, w io.Writer) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 4 || n > 1<<20 {
		return fmt.Errorf("startup message of %d bytes", n)
	}
	msg := make([]byte, n)
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return err
	}
	_, err := w.Write(msg)
	return err
}

// readTyped reads one message (type byte, length, body) and returns it whole.
func readTyped(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > 1<<30 {
		return 0, nil, fmt.Errorf("message %q of %d bytes", hdr[0], n)
	}
	msg := make([]byte, 1+n)
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[5:]); err != nil {
		return 0, nil, err
	}
	return hdr[0], msg, nil
}

func cstring(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

// TestLostAcknowledgementOfRotation (FI-1b): the connection to PostgreSQL
// is cut right after the server acknowledged a committed rotation, so
// authd sees an error for a rotation that happened. authd answers 503
// unavailable (it cannot know the outcome); the client's retry of the same
// token within the grace window gets exactly the child that was committed,
// with no reuse event; the chain continues; I1 holds.
func TestLostAcknowledgementOfRotation(t *testing.T) {
	t.Parallel()
	db := dbURL(t)
	// The one-statement rotation (models/rotate_postgres.go). The test
	// counts the cuts, so a rename of that statement fails it loudly.
	cutter := startAckCutter(t, pgHost(t, db), "WITH s AS MATERIALIZED")
	a := startAuthd(t, "a", map[string]string{"AUTHD_DATABASE_URL": withHost(t, db, cutter.Addr()), "AUTHD_REUSE_GRACE": "10s"})
	check := openSQL(t, db)
	ctx := context.Background()
	cl := &load.Client{HTTP: load.NewHTTPClient(2)}
	rounds := 3
	if long() {
		rounds = 20
	}
	for i := 0; i < rounds; i++ {
		email := fmt.Sprintf("lostack-%d@example.com", i)
		if r := cl.Register(ctx, a.URL, email, "correct horse battery staple"); r.Status != http.StatusCreated {
			t.Fatalf("register: %s %s", r.Key(), r.Body)
		}
		login := cl.Login(ctx, a.URL, email, "correct horse battery staple")
		if login.Status != http.StatusOK {
			t.Fatalf("login: %s %s", login.Key(), login.Body)
		}
		sid := login.Tokens.SessionID
		r0 := login.Tokens.RefreshToken

		cutter.arm(1)
		lost := cl.Refresh(ctx, a.URL, r0)
		if lost.Status != http.StatusServiceUnavailable || lost.Code != "unavailable" || lost.RetryAfter == "" {
			t.Fatalf("round %d: refresh whose acknowledgement was lost = %s (Retry-After %q), want 503 unavailable with Retry-After",
				i, lost.Key(), lost.RetryAfter)
		}
		if got := cutter.cuts.Load(); got != int32(i+1) {
			t.Fatalf("round %d: the proxy cut %d acknowledgements, want %d", i, got, i+1)
		}
		// The rotation did commit: R0 is rotated and has its child.
		var tokens, rotated int
		if err := check.QueryRowContext(ctx, `SELECT count(*), count(rotated_at) FROM refresh_tokens WHERE session_id = $1`, sid).
			Scan(&tokens, &rotated); err != nil {
			t.Fatal(err)
		}
		if tokens != 2 || rotated != 1 {
			t.Fatalf("round %d: after the lost acknowledgement the family has %d tokens, %d rotated; want 2 and 1 (the rotation committed)",
				i, tokens, rotated)
		}

		retry := cl.Refresh(ctx, a.URL, r0)
		if retry.Status != http.StatusOK {
			t.Fatalf("round %d: retry within grace = %s %s, want 200", i, retry.Key(), retry.Body)
		}
		var childID string
		if err := check.QueryRowContext(ctx, `SELECT c.id::text FROM refresh_tokens c JOIN refresh_tokens p ON c.parent_id = p.id
			WHERE p.session_id = $1 AND p.generation = 0`, sid).Scan(&childID); err != nil {
			t.Fatal(err)
		}
		if n := countWhere(t, check, `SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, sid); n != 2 {
			t.Fatalf("round %d: the retry minted another child: %d tokens in the family, want 2", i, n)
		}
		// The answer is the committed child: it is the only live token,
		// and it refreshes.
		next := cl.Refresh(ctx, a.URL, retry.Tokens.RefreshToken)
		if next.Status != http.StatusOK {
			t.Fatalf("round %d: the child the retry returned does not refresh: %s %s", i, next.Key(), next.Body)
		}
		if n := countWhere(t, check, `SELECT count(*) FROM refresh_tokens WHERE parent_id = $1::uuid`, childID); n != 1 {
			t.Fatalf("round %d: the committed child %s was not the one the retry returned (it has %d children)", i, childID, n)
		}
	}
	if n := countWhere(t, check, `SELECT count(*) FROM security_events WHERE reason = 'reuse_detected'`); n != 0 {
		t.Errorf("%d reuse_detected events after honest retries of lost acknowledgements", n)
	}
	checkInvariants(t, check, false)
}

func countWhere(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
