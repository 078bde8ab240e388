package handlers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authd/authd/internal/testutil"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/models"
)

func loginPrefix(t *testing.T, s *apitest.Server, email string, headers ...apitest.Header) string {
	t.Helper()
	tok := s.LoginWith(t, email, nil, headers...)
	for _, ss := range s.Sessions(t, tok.AccessToken) {
		if ss.ID == tok.SessionID {
			return ss.IPPrefix
		}
	}
	t.Fatal("new session not listed")
	return ""
}

func TestClientAddress(t *testing.T) {
	forged := []apitest.Header{apitest.XFF("198.51.100.7"), {Name: "X-Real-IP", Value: "198.51.100.8"}}

	t.Run("no trusted proxy: the TCP peer, whatever the headers say", func(t *testing.T) {
		for _, proxies := range []string{"", "10.0.0.0/8"} {
			s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: map[string]string{"AUTHD_TRUSTED_PROXIES": proxies}})
			email, _ := s.NewUser(t, "peer")
			if got := loginPrefix(t, s, email, forged...); got != "127.0.0.0/24" {
				t.Fatalf("proxies %q: ip_prefix with a forged X-Forwarded-For = %q, want the peer's 127.0.0.0/24", proxies, got)
			}
		}
	})

	t.Run("trusted proxy: the address it forwards", func(t *testing.T) {
		s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: map[string]string{"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32"}})
		email, _ := s.NewUser(t, "proxied")
		for _, tc := range []struct{ xff, want string }{
			{"198.51.100.7", "198.51.100.0/24"},
			{"2001:db8:abcd:12::77", "2001:db8:abcd::/48"},
			// The client may prepend anything; the proxy appends the real peer.
			{"203.0.113.9, 198.51.100.7", "198.51.100.0/24"},
		} {
			if got := loginPrefix(t, s, email, apitest.XFF(tc.xff)); got != tc.want {
				t.Errorf("X-Forwarded-For %q: ip_prefix = %q, want %q", tc.xff, got, tc.want)
			}
		}
	})
}

// allTables returns the names of every table of db's schema.
func allTables(t *testing.T, db *models.DB) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if db.IsPostgres() {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	var names []string
	if err := db.Raw(q).Scan(&names).Error; err != nil {
		t.Fatal(err)
	}
	if len(names) < 5 {
		t.Fatalf("found only tables %v", names)
	}
	return names
}

// TestFullAddressNeverStored reads every table and every log line after a
// tour of the API from two full addresses: only their prefixes may remain.
func TestFullAddressNeverStored(t *testing.T) {
	const v4, v6 = "198.51.100.77", "2001:db8:abcd:12::77"
	logs := &testutil.SyncBuffer{}
	apitest.Each(t, apitest.Options{Logs: logs, Env: map[string]string{
		"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32", "AUTHD_LOG_LEVEL": "debug", "AUTHD_REUSE_GRACE": "0s",
	}}, func(t *testing.T, s *apitest.Server) {
		for i, addr := range []string{v4, v6} {
			h := apitest.XFF(addr)
			email := fmt.Sprintf("addr-%d@example.com", i)
			if r := s.Do(t, "POST", "/v1/auth/register", map[string]string{"email": email, "password": apitest.Password}, h); r.Status != 201 {
				t.Fatalf("register = %d", r.Status)
			}
			wantStatusCode(t, s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": "wrong password 123"}, h), 401, "invalid_credentials")
			a := s.LoginWith(t, email, nil, h)
			b := s.LoginWith(t, email, nil, h)
			next := s.MustRefresh(t, a.RefreshToken)
			wantStatusCode(t, s.Refresh(t, a.RefreshToken, h), 401, "refresh_token_reused")
			_ = next
			s.Sessions(t, b.AccessToken)
			s.Do(t, "PATCH", "/v1/sessions/"+b.SessionID, map[string]string{"device_name": "phone"}, apitest.Bearer(b.AccessToken), h)
			s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": apitest.Password}, apitest.Bearer(b.AccessToken), h)
			c := s.LoginWith(t, email, nil, h)
			wantStatusCode(t, s.Do(t, "DELETE", "/v1/sessions?scope=others", nil, apitest.Bearer(c.AccessToken), h), 200, "")
			wantStatusCode(t, s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": c.RefreshToken}, h), 204, "")
		}

		db := s.App.DB()
		var dump strings.Builder
		for _, table := range allTables(t, db) {
			dump.WriteString(dumpTableAny(t, db, table))
		}
		for _, want := range []string{"198.51.100.0/24", "2001:db8:abcd::/48"} {
			if !strings.Contains(dump.String(), want) {
				t.Fatalf("the prefix %s is nowhere in the database: the test does not see what it should", want)
			}
		}
		for _, full := range []string{v4, v6, "2001:db8:abcd:12:", "2001:0db8:abcd:0012"} {
			if strings.Contains(dump.String(), full) {
				t.Errorf("the database holds the full client address %s", full)
			}
			if strings.Contains(logs.String(), full) {
				t.Errorf("the logs hold the full client address %s", full)
			}
		}
		if !strings.Contains(logs.String(), `"request"`) {
			t.Fatalf("no access-log lines captured: %q", logs.String())
		}
	})
}

// dumpTableAny is dumpTable for tables without an id column.
func dumpTableAny(t *testing.T, db *models.DB, table string) string {
	t.Helper()
	var cols []string
	q := "SELECT name FROM pragma_table_info(?)"
	if db.IsPostgres() {
		q = "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?"
	}
	if err := db.Raw(q, table).Scan(&cols).Error; err != nil {
		t.Fatal(err)
	}
	order := "1"
	for _, c := range cols {
		if c == "id" {
			order = "id"
		}
	}
	return table + ":\n" + dumpRows(t, db, "SELECT * FROM "+table+" ORDER BY "+order)
}
