package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/authd/authd/internal/testutil"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// LOG-01 and LOG-04: every authentication decision is an event with when,
// where, who and what; the filters select them.
func TestAdmin_SecurityEvents(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, admin := newAdmin(t, s)
		email, tok := s.NewUser(t, "audited", apitest.UA("audit-agent/1.0"))
		if r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": "wrong password 123"}, apitest.UA("audit-agent/1.0")); r.Status != 401 {
			t.Fatalf("bad login = %d", r.Status)
		}
		if r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong password 123"}, apitest.UA("audit-agent/1.0")); r.Status != 401 {
			t.Fatalf("unknown-email login = %d", r.Status)
		}

		mine := listEvents(t, s, admin.AccessToken, url.Values{"user_id": {tok.User.ID}})
		var types []string
		for _, e := range mine.Events {
			types = append(types, e.Type)
			if e.UserID == nil || *e.UserID != tok.User.ID || !strings.HasSuffix(e.CreatedAt, "Z") || e.Details == nil {
				t.Errorf("event %+v: want user_id %s, a UTC created_at and a details object", e, tok.User.ID)
			}
			if e.Type != "user_registered" && (e.IPPrefix != "127.0.0.0/24" || e.UserAgent != "audit-agent/1.0") {
				t.Errorf("event %s: ip_prefix %q, user_agent %q, want the client's", e.Type, e.IPPrefix, e.UserAgent)
			}
		}
		// Newest first.
		if got := strings.Join(types, ","); got != "login_failed,login_succeeded,user_registered" {
			t.Errorf("user's events = %s, want login_failed,login_succeeded,user_registered", got)
		}
		for i := 1; i < len(mine.Events); i++ {
			if mine.Events[i-1].CreatedAt < mine.Events[i].CreatedAt {
				t.Errorf("events not newest first: %s before %s", mine.Events[i-1].CreatedAt, mine.Events[i].CreatedAt)
			}
		}
		failed := listEvents(t, s, admin.AccessToken, url.Values{"type": {"login_failed"}})
		var unknown int
		for _, e := range failed.Events {
			if e.UserID == nil {
				unknown++
				if e.IPPrefix == "" || e.UserAgent != "audit-agent/1.0" {
					t.Errorf("unknown-email event %+v lacks ip_prefix or user agent", e)
				}
			}
		}
		if len(failed.Events) != 2 || unknown != 1 {
			t.Errorf("login_failed events = %d (%d without user), want 2 (1)", len(failed.Events), unknown)
		}
		if got := listEvents(t, s, admin.AccessToken, url.Values{"session_id": {tok.SessionID}}); len(got.Events) != 1 || got.Events[0].Type != "login_succeeded" {
			t.Errorf("session's events = %+v, want its login", got.Events)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if got := listEvents(t, s, admin.AccessToken, url.Values{"since": {future}}); len(got.Events) != 0 {
			t.Errorf("since=%s gave %d events, want 0", future, len(got.Events))
		}
		if got := listEvents(t, s, admin.AccessToken, url.Values{"until": {future}, "user_id": {tok.User.ID}}); len(got.Events) != 3 {
			t.Errorf("until=%s gave %d events, want 3", future, len(got.Events))
		}

		bad := []string{"user_id=42", "session_id=x", "since=yesterday", "until=2026-13-01T00:00:00Z", "limit=0",
			"limit=501", "limit=ten", "cursor=bm9wZQ", "cursor=%25%25", "format=xml", "type=DROP%20TABLE",
			"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"}
		for _, q := range bad {
			r := s.Do(t, "GET", "/v1/admin/security-events?"+q, nil, apitest.Bearer(admin.AccessToken))
			if r.Status != 400 || r.Code() != "invalid_request" {
				t.Errorf("GET security-events?%s = %d %q, want 400 invalid_request", q, r.Status, r.Code())
			}
		}
	})
}

// Walking every page with limit=2 while events keep arriving sees every
// event that existed before the walk exactly once (keyset pagination; ties
// on created_at are broken by id).
func TestAdmin_SecurityEventsPaginationUnderWrites(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, admin := newAdmin(t, s)
		db := s.App.DB().DB
		ctx := context.Background()
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
		for i := 0; i < 30; i++ {
			// Three events per instant, so pages split ties.
			at := base.Add(time.Duration(i/3) * time.Second)
			testdb.Must(t, models.InsertSecurityEvent(ctx, db, &models.SecurityEvent{Type: "login_failed", CreatedAt: at}))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		written := make(chan struct{}, 1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := models.InsertSecurityEvent(ctx, db, &models.SecurityEvent{Type: "login_failed",
					CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
					t.Errorf("concurrent insert: %v", err)
					return
				}
				if i == 3 {
					written <- struct{}{}
				}
				time.Sleep(time.Millisecond)
			}
		}()
		<-written
		var before []string
		testdb.Must(t, db.Model(&models.SecurityEvent{}).Pluck("id", &before).Error)

		seen := map[string]int{}
		cursor := ""
		for pages := 0; ; pages++ {
			q := url.Values{"limit": {"2"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			page := listEvents(t, s, admin.AccessToken, q)
			if len(page.Events) > 2 {
				t.Fatalf("page of %d events with limit=2", len(page.Events))
			}
			for _, e := range page.Events {
				seen[e.ID]++
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
			if pages > 1000 {
				t.Fatal("the walk does not end")
			}
		}
		close(stop)
		wg.Wait()
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event %s seen %d times", id, n)
			}
		}
		for _, id := range before {
			if seen[id] != 1 {
				t.Errorf("event %s, older than the walk, seen %d times, want 1", id, seen[id])
			}
		}
		if len(before) < 34 {
			t.Fatalf("only %d events before the walk", len(before))
		}
	})
}

// LOG-05: a hostile user agent stays one JSON log line, and the CSV export
// neutralises formulas and quotes line breaks.
func TestAdmin_SecurityEventsCSV(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) { testSecurityEventsCSV(t, dialect) })
	}
}

func testSecurityEventsCSV(t *testing.T, dialect string) {
	{
		var logs testutil.SyncBuffer
		s := apitest.New(t, apitest.Options{Dialect: dialect, Logs: &logs,
			Env: map[string]string{"AUTHD_LOG_LEVEL": "info"}})
		_, admin := newAdmin(t, s)
		formula := `=HYPERLINK("http://evil.example/x","click")`
		_, tok := s.NewUser(t, "csv", apitest.UA(formula))
		// The HTTP layer cannot carry a line break or an escape in a header,
		// but services must stay safe whatever a caller passes.
		hostile := "@SUM(1+1)\n\x1b[31mred\r" + formula
		sid := uuid.MustParse(tok.SessionID)
		if _, err := s.App.Sessions().Revoke(context.Background(), sid, models.ReasonLogout, nil,
			services.Meta{IPPrefix: "198.51.100.0/24", UserAgent: hostile}); err != nil {
			t.Fatal(err)
		}

		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line is not one JSON object: %q", line)
			}
			if m["msg"] == "security event" && m["reason"] == "logout" && m["user_agent"] != hostile {
				t.Errorf("logged user_agent = %q, want the hostile one escaped", m["user_agent"])
			}
		}
		if !strings.Contains(logs.String(), `\u001b[31m`) || !strings.Contains(logs.String(), `"msg":"security event"`) {
			t.Errorf("the event log line is missing or the escape was not escaped:\n%s", logs.String())
		}

		body, trailer := getCSV(t, s, admin.AccessToken, url.Values{"user_id": {tok.User.ID}})
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("parse CSV: %v\n%s", err, body)
		}
		if strings.Join(recs[0], ",") != "id,type,reason,user_id,session_id,actor_user_id,ip_prefix,user_agent,created_at,details" {
			t.Fatalf("CSV header = %v", recs[0])
		}
		if len(recs) != 4 || trailer != "" {
			t.Fatalf("CSV has %d rows and next cursor %q, want header + 3 and none:\n%s", len(recs), trailer, body)
		}
		// The formula after the carriage return is a fragment of its own.
		if got, want := recs[1][7], "'@SUM(1+1)\n\x1b[31mred\r'"+formula; got != want {
			t.Errorf("revocation user_agent cell = %q, want %q (each formula behind a quote)", got, want)
		}
		if got := recs[2][7]; got != "'"+formula {
			t.Errorf("login user_agent cell = %q, want %q", got, "'"+formula)
		}
		if !bytes.Contains(body, []byte(`"'=HYPERLINK(""http://evil.example/x"",""click"")"`)) {
			t.Errorf("formula cell not quoted as expected:\n%s", body)
		}
		for _, rec := range recs[1:] {
			for _, cell := range rec {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("cell %q starts with a formula character", cell)
				}
			}
		}

		// CSV pages like JSON: limit=1 returns the newest row and the cursor
		// of the next page as the trailer; following it gives the next row.
		first, next := getCSV(t, s, admin.AccessToken, url.Values{"user_id": {tok.User.ID}, "limit": {"1"}})
		page := listEvents(t, s, admin.AccessToken, url.Values{"user_id": {tok.User.ID}, "limit": {"1"}})
		if next == "" || page.NextCursor == nil || next != *page.NextCursor || !bytes.Contains(first, []byte(page.Events[0].ID)) {
			t.Fatalf("CSV page 1 (next %q) does not match JSON page 1 (%+v)", next, page)
		}
		second, _ := getCSV(t, s, admin.AccessToken, url.Values{"user_id": {tok.User.ID}, "limit": {"1"}, "cursor": {next}})
		if !bytes.Contains(second, []byte(recs[2][0])) {
			t.Errorf("CSV page 2 = %s, want event %s", second, recs[2][0])
		}
		if r := s.Do(t, "GET", "/v1/admin/security-events?format=csv&limit=0", nil, apitest.Bearer(admin.AccessToken)); r.Status != 400 {
			t.Errorf("CSV with limit=0 = %d, want 400 problem", r.Status)
		}
	}
}

// The CSV export is safe whichever list separator a spreadsheet splits it
// with (comma, semicolon as in most of Europe, or tab): no cell, and no
// fragment of one, starts with a formula character after optional spaces and
// double quotes. Hostile text reaches the export through device names (in
// session_revoked details) and user agents.
func TestAdmin_SecurityEventsCSVEveryLocale(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	_, admin := newAdmin(t, s)
	email, _ := s.NewUser(t, "locale")
	hostile := []string{
		`Phone;=HYPERLINK("http://evil.example/x","click")`,
		`Laptop; -2+3+cmd|' /C calc'!A0`,
		`Tablet;  "@SUM(A1:A9)`,
		`Desk,+1;" =1`,
		"Work\u00a0;\u00a0=1",
		`a;;=b;-c,@d`,
		`""=1`,
	}
	for i, name := range hostile {
		r := s.Do(t, "POST", "/v1/auth/login", map[string]any{"email": email, "password": apitest.Password,
			"device_name": name}, apitest.UA(hostile[(i+1)%len(hostile)]))
		if r.Status != http.StatusOK {
			t.Fatalf("login with device_name %q = %d %s", name, r.Status, r.Body)
		}
		var tok apitest.Tokens
		r.JSON(t, &tok)
		// Signing out records the device name in the event's details.
		if r := s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": tok.RefreshToken},
			apitest.UA(name)); r.Status != http.StatusNoContent {
			t.Fatalf("logout = %d %s", r.Status, r.Body)
		}
	}
	body, _ := getCSV(t, s, admin.AccessToken, url.Values{"limit": {"100"}})
	for _, sep := range []rune{',', ';', '\t'} {
		rd := csv.NewReader(bytes.NewReader(body))
		rd.Comma, rd.LazyQuotes, rd.FieldsPerRecord = sep, true, -1
		recs, err := rd.ReadAll()
		if err != nil {
			t.Fatalf("parse the CSV with %q: %v", sep, err)
		}
		fields := 0
		for _, rec := range recs {
			for _, f := range rec {
				fields++
				if csvFormula(f) {
					t.Errorf("opened with %q, a cell is a formula: %q", sep, f)
				}
			}
		}
		if fields < 2*len(hostile) {
			t.Fatalf("opened with %q: only %d cells", sep, fields)
		}
	}
	// The text stays readable: the names are there, each formula behind a quote.
	if !bytes.Contains(body, []byte(`Phone;'=HYPERLINK(`)) || !bytes.Contains(body, []byte(`Laptop; '-2+3+cmd`)) {
		t.Errorf("export does not show the names with a quote before each formula:\n%s", body)
	}
}

// csvFormula reports whether a spreadsheet cell would start a formula: its
// first character after spaces and double quotes is = + - @ tab or CR.
func csvFormula(cell string) bool {
	rest := strings.TrimLeftFunc(cell, func(r rune) bool {
		return r == '"' || r != '\t' && r != '\r' && unicode.IsSpace(r)
	})
	return rest != "" && strings.ContainsRune("=+-@\t\r", rune(rest[0]))
}

// getCSV fetches a CSV export and returns its body and X-Next-Cursor trailer.
func getCSV(t *testing.T, s *apitest.Server, token string, q url.Values) ([]byte, string) {
	t.Helper()
	q.Set("format", "csv")
	req, _ := http.NewRequest("GET", s.URL+"/v1/admin/security-events?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV export = %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	return body, res.Trailer.Get("X-Next-Cursor")
}

// A header the HTTP layer does accept still reaches the events cleaned of
// control characters.
func TestAdmin_UserAgentControlCharactersOverRawHTTP(t *testing.T) {
	s := apitest.New(t, apitest.Options{})
	_, admin := newAdmin(t, s)
	u, _ := url.Parse(s.URL)
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"email":"nobody@example.com","password":"wrong password 123"}`
	_, _ = io.WriteString(conn, "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"User-Agent: a\x1b[31mb\x7f=HYPERLINK(1)\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\nConnection: close\r\n\r\n"+body)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 && res.StatusCode != 401 {
		t.Fatalf("login with control characters in the UA = %d, want 400 or 401", res.StatusCode)
	}
	for _, e := range listEvents(t, s, admin.AccessToken, url.Values{"type": {"login_failed"}}).Events {
		if strings.ContainsAny(e.UserAgent, "\x1b\x7f\n\r") {
			t.Errorf("stored user agent %q keeps control characters", e.UserAgent)
		}
	}
}

// FI-10 (LOG-06, CONC-02): when the event cannot be written, the revocation
// rolls back with it, the client gets 503, and a retry succeeds once the
// fault is gone. The reverse (F14): a reuse detection commits its
// revocation although the caller gets 401.
func TestSecurityEvents_FailedEventWriteRollsBackRevocation(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: map[string]string{"AUTHD_REUSE_GRACE": "0s"}}, func(t *testing.T, s *apitest.Server) {
		_, admin := newAdmin(t, s)
		db := s.App.DB()
		_, victim := s.NewUser(t, "fi10")
		_, logoutUser := s.NewUser(t, "fi10-logout")
		_, reuser := s.NewUser(t, "fi10-reuse")

		failEvents := func(on bool) {
			t.Helper()
			const name = "authd_test:fail_security_events"
			if !on {
				testdb.Must(t, db.Callback().Create().Remove(name))
				return
			}
			testdb.Must(t, db.Callback().Create().After("gorm:create").Register(name, func(tx *gorm.DB) {
				if tx.Statement.Table == "security_events" {
					_ = tx.AddError(errors.New("injected: security_events write failed"))
				}
			}))
		}
		revoked := func(sid string) bool {
			return testdb.Count(t, db, "SELECT count(*) FROM sessions WHERE id = ? AND revoked_at IS NOT NULL", sid) == 1
		}
		events := func(sid, reason string) int64 {
			return testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE session_id = ? AND reason = ?", sid, reason)
		}

		// Admin revocation.
		failEvents(true)
		r := s.Do(t, "DELETE", "/v1/admin/sessions/"+victim.SessionID, nil, apitest.Bearer(admin.AccessToken))
		if r.Status != 503 || r.Code() != "unavailable" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("revoke with a failing event write = %d %q, want 503 unavailable with Retry-After", r.Status, r.Code())
		}
		if revoked(victim.SessionID) || events(victim.SessionID, "admin_revoked") != 0 {
			t.Fatal("the revocation or its event survived the rolled-back transaction")
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND revoked_at IS NOT NULL", victim.SessionID); n != 0 {
			t.Fatalf("%d refresh tokens revoked by the rolled-back transaction", n)
		}
		// Logout takes the same path.
		r = s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": logoutUser.RefreshToken})
		if r.Status != 503 || revoked(logoutUser.SessionID) {
			t.Fatalf("logout with a failing event write = %d (revoked %v), want 503 and nothing revoked", r.Status, revoked(logoutUser.SessionID))
		}
		// A reuse whose revocation cannot be recorded is not committed either.
		rotated := s.MustRefresh(t, reuser.RefreshToken)
		if r := s.Refresh(t, reuser.RefreshToken); r.Status != 503 || revoked(reuser.SessionID) {
			t.Fatalf("reuse with a failing event write = %d %q (revoked %v), want 503 and nothing revoked", r.Status, r.Code(), revoked(reuser.SessionID))
		}
		failEvents(false)

		if r := s.Do(t, "DELETE", "/v1/admin/sessions/"+victim.SessionID, nil, apitest.Bearer(admin.AccessToken)); r.Status != 204 {
			t.Fatalf("retried revoke = %d %s, want 204", r.Status, r.Body)
		}
		if !revoked(victim.SessionID) || events(victim.SessionID, "admin_revoked") != 1 {
			t.Fatal("the retried revocation or its event is missing")
		}
		if r := s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": logoutUser.RefreshToken}); r.Status != 204 || !revoked(logoutUser.SessionID) {
			t.Fatalf("retried logout = %d, want 204 and the session revoked", r.Status)
		}
		// F14: the reuse answer is 401, and its revocation is committed.
		if r := s.Refresh(t, reuser.RefreshToken); r.Status != 401 || r.Code() != "refresh_token_reused" {
			t.Fatalf("retried reuse = %d %q, want 401 refresh_token_reused", r.Status, r.Code())
		}
		if !revoked(reuser.SessionID) || events(reuser.SessionID, "reuse_detected") != 1 {
			t.Fatal("the reuse detection did not commit its revocation and event")
		}
		if r := s.Refresh(t, rotated.RefreshToken); r.Code() != "session_revoked" {
			t.Errorf("legitimate holder after reuse = %d %q, want session_revoked", r.Status, r.Code())
		}
	})
}
