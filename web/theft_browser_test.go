package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
)

// theftScene is a server with an admin, a victim whose copied refresh
// token was replayed, and a bystander user.
type theftScene struct {
	s                  *apitest.Server
	admin, victim      string
	stolen, phone, lap apitest.Tokens
}

func newTheftScene(t *testing.T) *theftScene {
	t.Helper()
	clock := apitest.NewClock()
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Clock: clock, Env: map[string]string{"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32"}})
	sc := &theftScene{s: s, admin: "admin@example.com", victim: "victim@example.com"}
	if _, err := s.App.Accounts().CreateUser(context.Background(), sc.admin, apitest.Password, "admin"); err != nil {
		t.Fatalf("create the admin: %v", err)
	}
	s.Register(t, sc.victim, apitest.Password)
	s.Register(t, "bystander@example.com", apitest.Password)
	home := []apitest.Header{apitest.UA(uaFirefoxLinux), {Name: "X-Forwarded-For", Value: "198.51.100.7"}}
	sc.stolen = s.Login(t, sc.victim, apitest.Password, home...)
	if r := s.Refresh(t, sc.stolen.RefreshToken, home...); r.Status != http.StatusOK {
		t.Fatalf("the victim's refresh = %d %s", r.Status, r.Body)
	}
	clock.Advance(s.Config.ReuseGrace + time.Second)
	if r := s.Refresh(t, sc.stolen.RefreshToken, apitest.UA(uaThief), apitest.XFF("203.0.113.9")); r.Code() != "refresh_token_reused" {
		t.Fatalf("the replay = %d %q", r.Status, r.Code())
	}
	// Sessions created within the same minute: UUIDv7 prefixes collide.
	sc.phone = s.Login(t, sc.victim, apitest.Password, apitest.UA(uaSafariIPhone))
	sc.lap = s.Login(t, sc.victim, apitest.Password, apitest.UA(uaFirefoxWindows))
	// Plenty of ordinary events after the theft, so that it is not on top.
	for range 60 {
		s.Login(t, "bystander@example.com", apitest.Password, apitest.UA(uaChromeAndroid))
	}
	return sc
}

// Item 3 and "Find the theft in seconds".
func TestBrowser_AdminFindsTheTheft(t *testing.T) {
	sc := newTheftScene(t)
	s := sc.s
	b := NewBrowser(t)
	tab := b.Tab()
	tab.Open(s.URL + "/admin/security")
	tab.SignIn(sc.admin, apitest.Password)
	tab.WaitFor("the events", `document.querySelectorAll('#events-body tr[data-event-id]').length === 50`)

	t.Run("the theft is pinned above the events with both sides", func(t *testing.T) {
		tab := tab.For(t)
		tab.WaitFor("the pinned theft", `document.querySelectorAll('#theft-list li.theft:not(.warning)').length === 1`)
		card := "#theft-list li.theft:not(.warning)"
		tab.WaitFor("the email", fmt.Sprintf(`document.querySelector(%s).textContent.includes(%s)`, jsString(card), jsString(sc.victim)))
		text := tab.Text(card)
		for _, want := range []string{sc.victim, "Firefox on Linux", "198.51.100.0/24", uaFirefoxLinux, "203.0.113.0/24", uaThief} {
			if !strings.Contains(text, want) {
				t.Errorf("the pinned theft lacks %q:\n%s", want, text)
			}
		}
		if got := tab.Text(card + " .legit-ua"); !strings.Contains(got, uaFirefoxLinux) {
			t.Errorf("last legitimate user agent = %q", got)
		}
		if !Eval[bool](tab, `!!(document.getElementById('theft').compareDocumentPosition(document.getElementById('events')) & Node.DOCUMENT_POSITION_FOLLOWING)`) {
			t.Error("the theft is not above the events")
		}
		// No jargon.
		for _, jargon := range []string{"generation", "Token reuse"} {
			if strings.Contains(tab.Text("#admin"), jargon) {
				t.Errorf("the page says %q", jargon)
			}
		}
	})

	t.Run("ids are unambiguous, with copy buttons, and a session links to its details", func(t *testing.T) {
		tab := tab.For(t)
		Eval[bool](tab, `(document.getElementById('f-type').value = 'login_succeeded') === 'login_succeeded'`)
		tab.Type("#f-email", sc.victim)
		tab.Click("#filters button[type=submit]")
		tab.WaitFor("three sign-ins", `document.querySelectorAll('#events-body tr[data-event-id]').length === 3`)
		shown := Eval[[]string](tab, `[...document.querySelectorAll('#events-body .session-link')].map((a) => a.textContent)`)
		seen := map[string]bool{}
		for _, id := range shown {
			seen[id] = true
		}
		if len(shown) != 3 || len(seen) != 3 {
			t.Fatalf("session ids shown %q, want 3 different ones", shown)
		}
		for _, want := range []string{sc.phone.SessionID, sc.lap.SessionID} {
			if !seen[want] {
				t.Errorf("session %s is not shown whole: %q", want, shown)
			}
		}
		if n := tab.Count("#events-body tr[data-event-id] button.copy"); n < 6 {
			t.Errorf("%d copy buttons, want one per user id and session id", n)
		}
		tab.Click(fmt.Sprintf(`#events-body a.session-link[data-session-id=%q]`, sc.phone.SessionID))
		row := fmt.Sprintf(`#user-sessions-body tr[data-session-id=%q]`, sc.phone.SessionID)
		tab.WaitFor("the session's details", Visible(row))
		tab.FocusIs("the session row", row)
		if !strings.Contains(tab.Text("#user-title"), sc.victim) {
			t.Errorf("panel title %q", tab.Text("#user-title"))
		}
	})

	t.Run("one click to the user's sessions, signed-out ones too, in plain words", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click("#close-user")
		tab.Click("#theft-list li.theft:not(.warning) button.theft-open")
		stolenRow := fmt.Sprintf(`#user-sessions-body tr[data-session-id=%q]`, sc.stolen.SessionID)
		tab.WaitFor("the stolen session", Visible(stolenRow))
		if got := Eval[string](tab, `document.getElementById('user-state').value`); got != "all" {
			t.Errorf("state filter = %q, want all for a user with theft", got)
		}
		if got := tab.Text(stolenRow + " .reason"); got != "Old refresh token replayed" {
			t.Errorf("revoke reason = %q", got)
		}
		if got := Eval[string](tab, fmt.Sprintf(`document.querySelector(%s).title`, jsString(stolenRow+" .reason"))); got != "reuse_detected" {
			t.Errorf("tooltip = %q, want the raw code", got)
		}
	})

	t.Run("admin revoke names the device and the user", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click(fmt.Sprintf(`#user-sessions-body tr[data-session-id=%q] button.revoke`, sc.lap.SessionID))
		tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
		text := tab.Text("#confirm-text")
		for _, want := range []string{"Firefox on Windows", sc.victim, "last active"} {
			if !strings.Contains(text, want) {
				t.Errorf("confirmation %q lacks %q", text, want)
			}
		}
		tab.Click("#confirm-no")
		tab.FocusIs("the Revoke button", fmt.Sprintf(`#user-sessions-body tr[data-session-id=%q] button.revoke`, sc.lap.SessionID))
	})
	tab.Screenshots("admin-theft")

	t.Run("at 390 px events are compact cards and the filters fold", func(t *testing.T) {
		tab := tab.For(t)
		tab.Viewport(390)
		defer tab.Viewport(0)
		tab.Open(s.URL + "/admin/security")
		tab.WaitFor("the events", `document.querySelectorAll('#events-body tr[data-event-id]').length === 50`)
		if Visible("#f-type") != "" && Eval[bool](tab, Visible("#f-type")) {
			t.Error("the filters are open at phone width")
		}
		tab.Click("#filters-toggle")
		tab.WaitFor("the filters", Visible("#f-type"))
		if got := Eval[string](tab, `document.getElementById('filters-toggle').getAttribute('aria-expanded')`); got != "true" {
			t.Errorf("aria-expanded = %q", got)
		}
		tab.Click("#filters-toggle")
		tallest := Eval[float64](tab, `Math.max(...[...document.querySelectorAll('#events-body tr[data-event-id]')].map((r) => r.getBoundingClientRect().height))`)
		if limit := 844.0 / 3; tallest > limit {
			t.Errorf("the tallest event card is %.0f px, want at most a third of the screen (%.0f)", tallest, limit)
		}
		tab.Screenshots("admin-phone")
	})
}
