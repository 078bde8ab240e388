package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/authd/authd/internal/apitest"
)

// Issue 19 "Recognise each device": icon, name, browser on OS once, app,
// network, dates, expiry, order, empty state and the recent activity.
func TestBrowser_RecogniseEachDevice(t *testing.T) {
	clock := apitest.NewClock()
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Clock: clock})
	b := NewBrowser(t)
	email := "recognise@example.com"
	s.Register(t, email, apitest.Password)
	login := func(body map[string]string, ua string) apitest.Tokens {
		body["email"], body["password"] = email, apitest.Password
		r := s.Do(t, "POST", "/v1/auth/login", body, apitest.UA(ua))
		if r.Status != http.StatusOK {
			t.Fatalf("login = %d %s", r.Status, r.Body)
		}
		var tok apitest.Tokens
		r.JSON(t, &tok)
		return tok
	}
	curl := login(map[string]string{}, uaCurl)
	clock.Advance(time.Minute)
	ipad := login(map[string]string{"client_id": "notes-app"}, uaIPad)
	clock.Advance(time.Minute)
	phone := login(map[string]string{"device_name": "Ada's phone"}, uaSafariIPhone)
	clock.Advance(time.Minute)
	// A failed sign-in for the activity list.
	if r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": "not it at all, sorry"}, apitest.UA(uaFirefoxLinux)); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password = %d", r.Status)
	}

	tab := b.Tab()
	tab.Open(s.URL + "/account")
	tab.SignIn(email, apitest.Password)
	tab.WaitFor("four devices", `document.querySelectorAll('#devices li').length === 4`)

	t.Run("icon, name and details of each device", func(t *testing.T) {
		tab := tab.For(t)
		for _, tc := range []struct {
			id, kind, name, platform string
		}{
			{curl.SessionID, "unknown", "curl", ""},
			{ipad.SessionID, "tablet", "Safari on iPad", ""},
			{phone.SessionID, "phone", "Ada's phone", "Safari on iOS"},
		} {
			if got := Eval[string](tab, fmt.Sprintf(`document.querySelector(%s).dataset.kind`, jsString(device(tc.id, "")))); got != tc.kind {
				t.Errorf("%s: kind %q, want %q", tc.name, got, tc.kind)
			}
			if n := tab.Count(device(tc.id, ".device-icon svg path")); n == 0 {
				t.Errorf("%s: no SVG icon", tc.name)
			}
			if got := tab.Text(device(tc.id, ".device-name")); got != tc.name {
				t.Errorf("name %q, want %q", got, tc.name)
			}
			if got := tab.Text(device(tc.id, ".device-platform")); got != tc.platform {
				t.Errorf("%s: browser on OS %q, want %q (never the name again)", tc.name, got, tc.platform)
			}
			meta := tab.Text(device(tc.id, ".device-meta"))
			if strings.Count(tab.Text(device(tc.id, ".device-info")), tc.name) != 1 {
				t.Errorf("%s: the name shows more than once: %q", tc.name, tab.Text(device(tc.id, ".device-info")))
			}
			if !strings.Contains(meta, "127.0.0.0/24") {
				t.Errorf("%s: no network in %q", tc.name, meta)
			}
			times := tab.Text(device(tc.id, ".device-times"))
			for _, want := range []string{"Last active", "Signed in", "Stays signed in until"} {
				if !strings.Contains(times, want) {
					t.Errorf("%s: %q lacks %q", tc.name, times, want)
				}
			}
			exact := Eval[string](tab, fmt.Sprintf(`document.querySelector(%s).title`, jsString(device(tc.id, ".device-active time"))))
			sr := tab.Text(device(tc.id, ".device-active time .sr-only"))
			if exact == "" || !strings.Contains(sr, exact) {
				t.Errorf("%s: exact time %q not on hover or for screen readers (%q)", tc.name, exact, sr)
			}
		}
		if got := tab.Text(device(ipad.SessionID, ".device-app")); got != "App: notes-app" {
			t.Errorf("the iPad's app = %q, want App: notes-app", got)
		}
		if n := tab.Count(device(curl.SessionID, ".device-app")); n != 0 {
			t.Errorf("curl, signed in without client_id, names an app: %q", tab.Text(device(curl.SessionID, ".device-app")))
		}
	})

	t.Run("this device first, then the most recently active", func(t *testing.T) {
		tab := tab.For(t)
		got := Eval[[]string](tab, `[...document.querySelectorAll('#devices li')].map((li) => li.dataset.sessionId)`)
		if len(got) != 4 || got[1] != phone.SessionID || got[2] != ipad.SessionID || got[3] != curl.SessionID {
			t.Errorf("order = %v, want this device, then phone, iPad, curl", got)
		}
		if !strings.Contains(tab.Text("#devices li:first-child"), "This device") {
			t.Error("the first device is not marked as this device")
		}
	})

	t.Run("last active updates while the page is open", func(t *testing.T) {
		tab := tab.For(t)
		sel := device(curl.SessionID, ".device-active time")
		// Pretend the page has been open for three hours.
		Eval[bool](tab, fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.setAttribute('datetime', new Date(Date.now() - 3 * 3600e3).toISOString()); return true; })()`, jsString(sel)))
		tab.WaitFor("3 hours ago", fmt.Sprintf(`document.querySelector(%s).textContent.includes('3 hours ago')`, jsString(sel)))
	})

	t.Run("recent security activity in plain words", func(t *testing.T) {
		tab := tab.For(t)
		tab.WaitFor("the activity", `document.querySelectorAll('#activity li').length >= 5`)
		text := tab.Text("#activity")
		for _, want := range []string{"Signed in on Safari on iOS from 127.0.0.0/24", "Failed sign-in (wrong password) on Firefox on Linux", "Account created"} {
			if !strings.Contains(text, want) {
				t.Errorf("the activity lacks %q:\n%s", want, text)
			}
		}
		for _, jargon := range []string{"login_", "session_revoked", "token"} {
			if strings.Contains(text, jargon) {
				t.Errorf("the activity shows jargon %q:\n%s", jargon, text)
			}
		}
	})

	t.Run("empty state", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click("#signout-others")
		tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
		tab.Click("#confirm-yes")
		tab.WaitFor("only this device", `document.querySelectorAll('#devices li').length === 1`)
		tab.WaitFor("the empty state", Visible("#devices-empty"))
		if got := tab.Text("#devices-empty"); got != "Only this device is signed in." {
			t.Errorf("empty state = %q", got)
		}
	})
	tab.Screenshots("account-recognise")
}

// The reuse of an old sign-in reads as such in the user's own activity.
func TestBrowser_ActivityNamesTheReplay(t *testing.T) {
	clock := apitest.NewClock()
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Clock: clock})
	b := NewBrowser(t)
	email := "replayed@example.com"
	s.Register(t, email, apitest.Password)
	stolen := s.Login(t, email, apitest.Password, apitest.UA(uaSafariIPhone))
	if r := s.Refresh(t, stolen.RefreshToken, apitest.UA(uaSafariIPhone)); r.Status != http.StatusOK {
		t.Fatalf("refresh = %d", r.Status)
	}
	clock.Advance(s.Config.ReuseGrace + time.Second)
	s.Refresh(t, stolen.RefreshToken, apitest.UA(uaThief), apitest.XFF("203.0.113.9"))
	tab := b.Tab()
	tab.Open(s.URL + "/account")
	tab.SignIn(email, apitest.Password)
	tab.WaitFor("the replay", `!!document.querySelector('#activity li[data-reason=reuse_detected]')`)
	if got := tab.Text("#activity li[data-reason=reuse_detected] .activity-text"); !strings.HasPrefix(got, "Someone used an old sign-in of Safari on iOS") || !strings.Contains(got, "that device was signed out") {
		t.Errorf("the replay reads %q", got)
	}
}

// Acceptance: only the keyboard, through sign in, rename a device, sign
// one out with the confirmation, change the password.
func TestBrowser_KeyboardOnly(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	b := NewBrowser(t)
	email := "keys@example.com"
	s.Register(t, email, apitest.Password)
	phone := s.Login(t, email, apitest.Password, apitest.UA(uaSafariIPhone))
	laptop := s.Login(t, email, apitest.Password, apitest.UA(uaFirefoxWindows))
	tab := b.Tab()
	tab.Open(s.URL + "/account")
	tab.WaitFor("the sign-in form", Visible("#signin-form"))

	tab.TabTo("#signin-email")
	tab.Key(email)
	tab.Key("\t")
	tab.Key(apitest.Password)
	tab.Key(kb.Enter)
	tab.WaitFor("signed in", `!document.getElementById('account').hidden && document.querySelectorAll('#devices li').length === 3`)

	tab.TabTo(device(phone.SessionID, "button.rename"))
	tab.Key(kb.Enter)
	tab.FocusIs("the name field", "#rename-"+phone.SessionID)
	tab.Key("Keyboard phone")
	tab.Key(kb.Enter)
	tab.WaitFor("the new name", fmt.Sprintf(`(document.querySelector(%s) || {}).textContent === 'Keyboard phone'`, jsString(device(phone.SessionID, ".device-name"))))
	tab.FocusIs("the Rename button", device(phone.SessionID, "button.rename"))

	tab.TabTo(device(laptop.SessionID, "button.signout"))
	tab.Key(kb.Enter)
	tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
	tab.TabTo("#confirm-yes")
	tab.Key(kb.Enter)
	tab.WaitFor("the laptop gone", fmt.Sprintf(`!document.querySelector(%s)`, jsString(fmt.Sprintf(`#devices li[data-session-id=%q]`, laptop.SessionID))))
	if f := tab.Focused(); f == "body" {
		t.Error("focus fell to the body after signing the laptop out")
	}
	wantRefreshRefused(t, s, laptop, "the laptop")

	const next = "violet tangerine harbour 1987"
	tab.TabTo("#current-password")
	tab.Key(apitest.Password)
	tab.Key("\t")
	tab.Key(next)
	tab.Key("\t")
	tab.Key(next)
	tab.Key(kb.Enter)
	tab.WaitFor("the confirmation", `document.getElementById('password-status').textContent.includes('Password changed')`)
	tab.FocusIs("the confirmation", "#password-status")
	if r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": next}); r.Status != http.StatusOK {
		t.Errorf("login with the new password = %d", r.Status)
	}
}
