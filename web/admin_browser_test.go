package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
)

const (
	uaFirefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaThief        = "EvilBot/6.6 (stolen-token replayer)"
)

func TestBrowser_AdminSecurity(t *testing.T) {
	clock := apitest.NewClock()
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Clock: clock})
	b := NewBrowser(t)

	adminEmail := "admin@example.com"
	if _, err := s.App.Accounts().CreateUser(context.Background(), adminEmail, apitest.Password, "admin"); err != nil {
		t.Fatalf("create the admin: %v", err)
	}
	userEmail := "mallory@example.com"
	s.Register(t, userEmail, apitest.Password)

	// The theft: the victim's refresh token is copied, the victim goes on
	// refreshing, and the thief replays the copy after the grace window.
	victimEmail := "victim@example.com"
	s.Register(t, victimEmail, apitest.Password)
	stolen := s.Login(t, victimEmail, apitest.Password, apitest.UA(uaFirefoxLinux))
	if r := s.Refresh(t, stolen.RefreshToken, apitest.UA(uaFirefoxLinux)); r.Status != http.StatusOK {
		t.Fatalf("the victim's refresh = %d %s", r.Status, r.Body)
	}
	clock.Advance(s.Config.ReuseGrace + time.Second)
	if r := s.Refresh(t, stolen.RefreshToken, apitest.UA(uaThief)); r.Status != http.StatusUnauthorized || r.Code() != "refresh_token_reused" {
		t.Fatalf("the replay = %d %q, want 401 refresh_token_reused", r.Status, r.Code())
	}
	// The victim's other devices, for the admin to revoke.
	phone := s.Login(t, victimEmail, apitest.Password, apitest.UA(uaSafariIPhone))
	laptop := s.Login(t, victimEmail, apitest.Password, apitest.UA(uaFirefoxLinux))

	tab := b.Tab()
	t.Run("a user who is not an admin is refused", func(t *testing.T) {
		tab := tab.For(t)
		tab.Open(s.URL + "/admin/security")
		tab.SignIn(userEmail, apitest.Password)
		tab.WaitFor("the refusal", Visible("#refusal"))
		if got := tab.Text("#refusal"); !strings.Contains(got, "administrator") || !strings.Contains(got, userEmail) {
			t.Errorf("refusal = %q, want it to name the account and the missing role", got)
		}
		if tab.Count("#admin:not([hidden])") != 0 || tab.Count("#events-body tr") != 0 {
			t.Error("the events show to a user who is not an admin")
		}
		tab.Screenshots("admin-refused")
		tab.Click("#signout")
		tab.WaitFor("the sign-in form", Visible("#signin-form"))
	})

	tab.SignIn(adminEmail, apitest.Password)
	tab.WaitFor("the events", `document.querySelectorAll('#events-body tr[data-event-id]').length > 0`)

	t.Run("filter finds the reuse detection with both sides", func(t *testing.T) {
		tab := tab.For(t)
		Eval[bool](tab, `(document.getElementById('f-reason').value = 'reuse_detected') === 'reuse_detected'`)
		tab.Type("#f-email", victimEmail)
		tab.Click("#filters button[type=submit]")
		tab.WaitFor("one reuse event", `document.querySelectorAll('#events-body tr[data-event-id]').length === 1 && document.querySelector('#events-body tr.reuse')`)
		row := "#events-body tr.reuse"
		if got := tab.Text(row); !strings.Contains(got, "Old refresh token replayed") || !strings.Contains(got, "reuse_detected") {
			t.Errorf("the reuse row reads %q", got)
		}
		if got := tab.Text(row + " .replay-ua"); !strings.Contains(got, uaThief) {
			t.Errorf("replay user agent = %q, want %q", got, uaThief)
		}
		if got := tab.Text(row + " .replay-ip"); !strings.Contains(got, "127.0.0.0/24") {
			t.Errorf("replay IP prefix = %q, want 127.0.0.0/24", got)
		}
		if got := tab.Text(row + " .legit-ip"); !strings.Contains(got, "127.0.0.0/24") {
			t.Errorf("last legitimate IP prefix = %q, want 127.0.0.0/24", got)
		}
		tab.WaitFor("the legitimate user agent", fmt.Sprintf(`document.querySelector('#events-body tr.reuse .legit-ua').textContent.includes(%s)`, jsString(uaFirefoxLinux)))
		if bg := Eval[string](tab, `getComputedStyle(document.querySelector('#events-body tr.reuse td')).backgroundColor`); bg == "rgba(0, 0, 0, 0)" {
			t.Error("the reuse row does not stand out")
		}
		tab.Screenshots("admin-reuse")
	})

	t.Run("export the filtered events as CSV", func(t *testing.T) {
		tab := tab.For(t)
		data := b.WaitDownload(func() { tab.Click("#export-csv") })
		records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatalf("the download is not CSV: %v\n%s", err, data)
		}
		if len(records) != 2 {
			t.Fatalf("the CSV has %d records, want the header and the reuse event:\n%s", len(records), data)
		}
		row := strings.Join(records[1], "|")
		for _, want := range []string{"session_revoked", "reuse_detected", stolen.SessionID, uaThief} {
			if !strings.Contains(row, want) {
				t.Errorf("the CSV row %q lacks %q", row, want)
			}
		}
		tab.WaitFor("the download link", `document.getElementById('csv-link')`)
		if rows := Eval[string](tab, `document.getElementById('csv-link').dataset.rows`); rows != "1" {
			t.Errorf("the link counts %s rows, want 1", rows)
		}
		if href := Eval[string](tab, `document.getElementById('csv-link').href`); !strings.HasPrefix(href, "blob:") {
			t.Errorf("the download link is %q, want a blob: URL", href)
		}
	})

	// A reload trades the cookie for a new access token, which is not
	// fresh: every admin revocation must ask for the admin's password and
	// then retry (issue 15 item 7).
	openVictim := func(t *testing.T, tab *Tab, active int) {
		t.Helper()
		tab.Open(s.URL + "/admin/security")
		tab.WaitFor("the events", `document.querySelectorAll('#events-body tr[data-event-id]').length > 0`)
		tab.Type("#f-email", victimEmail)
		tab.Click("#f-user-sessions")
		tab.WaitFor("the user's sessions", Visible("#user-panel")+fmt.Sprintf(` && document.querySelectorAll('#user-sessions-body tr[data-session-id] button.revoke').length === %d`, active))
		if got := tab.Text("#user-title"); !strings.Contains(got, victimEmail) {
			t.Errorf("panel title = %q", got)
		}
	}
	promptOpen := `document.getElementById('reauth').open`
	confirmOpen := `document.getElementById('confirm').open`

	t.Run("revoke a session of the user after confirming the password", func(t *testing.T) {
		tab := tab.For(t)
		openVictim(t, tab, 2)
		revoke := fmt.Sprintf(`#user-sessions-body tr[data-session-id=%q] button.revoke`, phone.SessionID)
		tab.Click(revoke)
		tab.WaitFor("the confirmation", confirmOpen)
		tab.Click("#confirm-yes")
		tab.WaitFor("the password prompt", promptOpen)
		tab.Click("#reauth-cancel")
		tab.WaitFor("the prompt to close", "!"+promptOpen)
		if n := tab.Count("#user-sessions-body tr[data-session-id] button.revoke"); n != 2 {
			t.Fatalf("after a cancelled prompt %d sessions are listed, want both still active", n)
		}

		tab.Click(revoke)
		tab.WaitFor("the confirmation", confirmOpen)
		tab.Click("#confirm-yes")
		tab.WaitFor("the password prompt", promptOpen)
		tab.Screenshots("admin-reauth")
		tab.Type("#reauth-password", "wrong password, surely")
		tab.PressEnter("#reauth-password")
		tab.WaitFor("the prompt's error", `document.getElementById('reauth-error').textContent !== ''`)
		tab.Type("#reauth-password", apitest.Password)
		tab.PressEnter("#reauth-password")
		tab.WaitFor("one active session left", `document.querySelectorAll('#user-sessions-body tr[data-session-id] button.revoke').length === 1`)
		if Eval[bool](tab, promptOpen) {
			t.Error("the password prompt is still open")
		}
		wantRefreshRefused(t, s, phone, "the victim's phone")
	})

	t.Run("revoke all sessions of the user after confirming the password", func(t *testing.T) {
		tab := tab.For(t)
		openVictim(t, tab, 1)
		tab.Click("#revoke-all")
		tab.WaitFor("the confirmation", confirmOpen)
		if got := tab.Text("#confirm-text"); !strings.Contains(got, victimEmail) {
			t.Errorf("the confirmation reads %q, want it to name %s", got, victimEmail)
		}
		tab.Click("#confirm-yes")
		tab.WaitFor("the password prompt", promptOpen)
		tab.Type("#reauth-password", apitest.Password)
		tab.PressEnter("#reauth-password")
		tab.WaitFor("no active session left", `document.querySelectorAll('#user-sessions-body tr[data-session-id] button.revoke').length === 0 && document.getElementById('user-status').textContent !== ''`)
		if got := tab.Text("#user-status"); !strings.Contains(got, "Revoked 1 session") {
			t.Errorf("flash = %q, want it to count one revoked session", got)
		}
		wantRefreshRefused(t, s, laptop, "the victim's laptop")

		Eval[bool](tab, `(() => { const s = document.getElementById('user-state'); s.value = 'all'; s.dispatchEvent(new Event('change')); return true; })()`)
		tab.WaitFor("the three revoked sessions", `document.querySelectorAll('#user-sessions-body tr[data-session-id]').length === 3`)
		text := tab.Text("#user-sessions-body")
		for _, want := range []string{"Signed out: Old refresh token replayed", "Signed out: Signed out by an administrator"} {
			if !strings.Contains(text, want) {
				t.Errorf("the sessions table lacks %q:\n%s", want, text)
			}
		}
		// The raw codes stay in a tooltip.
		codes := Eval[string](tab, `[...document.querySelectorAll('#user-sessions-body .reason')].map((e) => e.title).join(' ')`)
		for _, want := range []string{"reuse_detected", "admin_revoked"} {
			if !strings.Contains(codes, want) {
				t.Errorf("the reason tooltips %q lack the code %s", codes, want)
			}
		}
		tab.Screenshots("admin-user-sessions")
	})
}

// Issue 15 point 11 on the security page: a grace retry from another network
// or app reads as such, with the first use and the retry side by side.
func TestBrowser_AdminShowsGraceRetryFromElsewhere(t *testing.T) {
	clock := apitest.NewClock()
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Clock: clock, Env: map[string]string{"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32"}})
	b := NewBrowser(t)
	adminEmail := "admin@example.com"
	if _, err := s.App.Accounts().CreateUser(context.Background(), adminEmail, apitest.Password, "admin"); err != nil {
		t.Fatalf("create the admin: %v", err)
	}
	email := "traveller@example.com"
	s.Register(t, email, apitest.Password)
	home := []apitest.Header{apitest.UA(uaFirefoxLinux), apitest.XFF("198.51.100.7")}
	tok := s.Login(t, email, apitest.Password, home...)
	if r := s.Refresh(t, tok.RefreshToken, home...); r.Status != http.StatusOK {
		t.Fatalf("the first use = %d %s", r.Status, r.Body)
	}
	clock.Advance(time.Second)
	if r := s.Refresh(t, tok.RefreshToken, apitest.UA(uaSafariIPhone), apitest.XFF("203.0.113.9")); r.Status != http.StatusOK {
		t.Fatalf("the retry from elsewhere = %d %s, want 200", r.Status, r.Body)
	}

	tab := b.Tab()
	tab.Open(s.URL + "/admin/security")
	tab.SignIn(adminEmail, apitest.Password)
	tab.WaitFor("the events", `document.querySelectorAll('#events-body tr[data-event-id]').length > 0`)
	Eval[bool](tab, `(document.getElementById('f-type').value = 'refresh_retry_mismatch') === 'refresh_retry_mismatch'`)
	tab.Click("#filters button[type=submit]")
	tab.WaitFor("one retry event", `document.querySelectorAll('#events-body tr[data-event-id]').length === 1 && document.querySelector('#events-body .first-ip')`)
	row := "#events-body tr[data-event-id]"
	if got := tab.Text(row); !strings.Contains(got, "Renewed from another network or app") || !strings.Contains(got, "refresh_retry_mismatch") {
		t.Errorf("the retry row reads %q", got)
	}
	for sel, want := range map[string]string{
		" .first-ip": "198.51.100.0/24", " .first-ua": uaFirefoxLinux,
		" .retry-ip": "203.0.113.0/24", " .retry-ua": uaSafariIPhone,
	} {
		if got := tab.Text(row + sel); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
}
