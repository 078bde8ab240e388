package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/authd/authd/internal/apitest"
)

// Issue 19 tests of /account. Each numbered item fails on today's main
// (5d372f8).

const (
	uaIPad = "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	uaCurl = "curl/8.5.0"
)

// refreshCookie reads the page's HttpOnly refresh cookie through the
// DevTools protocol (the page itself cannot).
func refreshCookie(t *testing.T, tab *Tab) string {
	t.Helper()
	var value string
	tab.Do("read the refresh cookie", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
		if err != nil {
			return err
		}
		for _, c := range res.Cookies {
			if strings.HasSuffix(c.Name, "authd_refresh") {
				value = c.Value
			}
		}
		return nil
	}))
	if value == "" {
		t.Fatal("no refresh cookie in the browser")
	}
	return value
}

// Item 1: a session that ended says why on the sign-in form, from the code
// of the failed refresh, and keeps the email.
func TestBrowser_SignedOutSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, s *apitest.Server, clock *apitest.Clock, tab *Tab, email, session string)
		want string
	}{
		{"expired", func(t *testing.T, s *apitest.Server, clock *apitest.Clock, _ *Tab, _, _ string) {
			clock.Advance(s.Config.RefreshTTL + time.Hour)
		}, "Your session ended on this device"},
		{"signed out from another device", func(t *testing.T, s *apitest.Server, _ *apitest.Clock, _ *Tab, email, session string) {
			other := s.Login(t, email, apitest.Password, apitest.UA(uaChromeAndroid))
			if r := s.Do(t, "DELETE", "/v1/sessions/"+session, nil, apitest.Bearer(other.AccessToken)); r.Status != http.StatusNoContent {
				t.Fatalf("revoke = %d %s", r.Status, r.Body)
			}
		}, "This device was signed out from another device"},
		{"old refresh token replayed", func(t *testing.T, s *apitest.Server, clock *apitest.Clock, tab *Tab, _, _ string) {
			// The session is bound to this browser's key (DPoP), so a
			// thief would need that key too: the browser plays the thief's
			// part, refreshing once, and gets the old cookie back, so that
			// its own next refresh is the replay.
			old := refreshCookie(t, tab)
			Eval[bool](tab, `import('/static/api.js').then((api) => api.refresh()).then(() => true)`)
			if _, err := chromedp.Call(tab.ctx, network.SetCookie, network.SetCookieParams{
				Name: "authd_refresh", Value: old, URL: s.URL, Path: "/", HTTPOnly: ptr(true),
			}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(s.Config.AccessTTL + s.Config.ReuseGrace + time.Second)
		}, "Signed out after a reuse of an old refresh token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := apitest.NewClock()
			s := apitest.New(t, apitest.Options{Dialect: "sqlite", Clock: clock})
			b := NewBrowser(t)
			email := "why@example.com"
			s.Register(t, email, apitest.Password)
			tab := b.Tab().For(t)
			tab.Open(s.URL + "/account")
			tab.SignIn(email, apitest.Password)
			tab.WaitFor("the device list", `document.querySelectorAll('#devices li.current').length === 1`)
			session := Eval[string](tab, `document.querySelector('#devices li.current').dataset.sessionId`)
			tc.end(t, s, clock, tab, email, session)
			tab.WaitFor("the sign-in form", `(document.dispatchEvent(new Event('visibilitychange')), !document.getElementById('signin').hidden)`)
			if got := tab.Text("#signin-message"); !strings.Contains(got, tc.want) {
				t.Errorf("message = %q, want %q", got, tc.want)
			}
			if got := Eval[string](tab, `document.getElementById('signin-email').value`); got != email {
				t.Errorf("the email field holds %q, want the email of the session that ended (%s)", got, email)
			}
			tab.FocusIs("the password field", "#signin-password")
		})
	}
}

// Item 2: at 390 px the result of the password change is on screen, next
// to the form, and read once.
func TestBrowser_ResultVisibleAtPhoneWidth(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	b := NewBrowser(t)
	email := "phone@example.com"
	s.Register(t, email, apitest.Password)
	for range 3 {
		s.Login(t, email, apitest.Password, apitest.UA(uaSafariIPhone))
	}
	tab := b.Tab()
	tab.Viewport(390)
	tab.Open(s.URL + "/account")
	tab.SignIn(email, apitest.Password)
	tab.WaitFor("the devices", `document.querySelectorAll('#devices li').length === 4`)
	const next = "violet tangerine harbour 1987"
	tab.Type("#current-password", apitest.Password)
	tab.Type("#new-password", next)
	tab.Type("#confirm-password", next)
	tab.PressEnter("#confirm-password")
	const text = "Password changed"
	tab.WaitFor("the confirmation", fmt.Sprintf(`[...document.querySelectorAll('main *')].some((e) => e.children.length === 0 && e.textContent.includes(%q) && e.getClientRects().length)`, text))
	Eval[bool](tab, `new Promise((r) => setTimeout(() => r(true), 300))`)
	if !Eval[bool](tab, fmt.Sprintf(`[...document.querySelectorAll('main *')].some((e) => e.children.length === 0 && e.textContent.includes(%q) && (() => { const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; })())`, text)) {
		t.Error("the password-changed confirmation is off-screen at 390 px")
	}
	if n := tab.Announced(text); n != 1 {
		t.Errorf("the confirmation would be read %d times, want once", n)
	}
	tab.Screenshots("account-password-changed")
}

// Item 4: focus stays where the person is after rename, sign out of all
// other devices, the password change and a cancelled dialog.
func TestBrowser_FocusAfterActions(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	b := NewBrowser(t)
	email := "focus@example.com"
	s.Register(t, email, apitest.Password)
	iphone := s.Login(t, email, apitest.Password, apitest.UA(uaSafariIPhone))
	s.Login(t, email, apitest.Password, apitest.UA(uaFirefoxWindows))
	tab := b.Tab()
	tab.Open(s.URL + "/account")
	tab.SignIn(email, apitest.Password)
	tab.WaitFor("three devices", `document.querySelectorAll('#devices li').length === 3`)

	t.Run("rename", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click(device(iphone.SessionID, "button.rename"))
		tab.Type("#rename-"+iphone.SessionID, "Work phone")
		tab.PressEnter("#rename-" + iphone.SessionID)
		tab.WaitFor("the new name", fmt.Sprintf(`(document.querySelector(%s) || {}).textContent === 'Work phone'`, jsString(device(iphone.SessionID, ".device-name"))))
		tab.FocusIs("the renamed device's Rename button", device(iphone.SessionID, "button.rename"))
	})
	t.Run("cancelled confirmation", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click(device(iphone.SessionID, "button.signout"))
		tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
		tab.Key(kb.Escape)
		tab.WaitFor("the dialog to close", `!document.getElementById('confirm').open`)
		tab.FocusIs("the Sign out button that opened it", device(iphone.SessionID, "button.signout"))
	})
	t.Run("cancelled password prompt", func(t *testing.T) {
		tab := tab.For(t)
		tab.Open(s.URL + "/account") // a token that is not fresh
		tab.WaitFor("three devices", `document.querySelectorAll('#devices li').length === 3`)
		tab.Click(device(iphone.SessionID, "button.signout"))
		tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
		tab.Click("#confirm-yes")
		tab.WaitFor("the password prompt", `document.getElementById('reauth').open`)
		tab.Click("#reauth-cancel")
		tab.WaitFor("the prompt to close", `!document.getElementById('reauth').open`)
		tab.FocusIs("the Sign out button that opened it", device(iphone.SessionID, "button.signout"))
	})
	t.Run("sign out all other devices", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click("#signout-others")
		tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
		tab.Click("#confirm-yes")
		tab.WaitFor("the password prompt", `document.getElementById('reauth').open`)
		tab.Type("#reauth-password", apitest.Password)
		tab.PressEnter("#reauth-password")
		tab.WaitFor("only this device", `document.querySelectorAll('#devices li').length === 1`)
		tab.FocusIs("the result", "#devices-status")
		if got := tab.Text("#devices-status"); !strings.Contains(got, "Signed out 2 other devices") {
			t.Errorf("result = %q", got)
		}
	})
	t.Run("password change", func(t *testing.T) {
		tab := tab.For(t)
		const next = "violet tangerine harbour 1987"
		tab.Type("#current-password", apitest.Password)
		tab.Type("#new-password", next)
		tab.Type("#confirm-password", next)
		tab.PressEnter("#confirm-password")
		tab.WaitFor("the confirmation", `document.getElementById('password-status').textContent.includes('Password changed')`)
		tab.FocusIs("the confirmation", "#password-status")
	})
}

// Item 5: no button label is cut inside a word at phone width.
func TestBrowser_NoWordSplitInButtons(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	b := NewBrowser(t)
	email := "a-rather-long-address-for-a-phone@example.com"
	s.Register(t, email, apitest.Password)
	long := "A device name long enough to fill the row on any phone screen"
	r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": apitest.Password, "device_name": long}, apitest.UA(uaChromeAndroid))
	if r.Status != http.StatusOK {
		t.Fatalf("login = %d %s", r.Status, r.Body)
	}
	tab := b.Tab()
	tab.Viewport(390)
	tab.Open(s.URL + "/account")
	tab.SignIn(email, apitest.Password)
	tab.WaitFor("two devices", `document.querySelectorAll('#devices li').length === 2`)
	for _, w := range []int64{390, 320, 700} {
		tab.Viewport(w)
		if split := tab.SplitWords("main"); len(split) != 0 {
			t.Errorf("/account at %d px: these button words break across lines: %q", w, split)
		}
	}
	tab.Viewport(0)
}

// Item 5 on the security page's sessions table, with a long user agent,
// from a phone (390) to a phone held sideways (700, 740).
func TestBrowser_NoWordSplitInAdminButtons(t *testing.T) {
	sc := newTheftScene(t)
	b := NewBrowser(t)
	tab := b.Tab()
	tab.Open(sc.s.URL + "/admin/security")
	tab.SignIn(sc.admin, apitest.Password)
	tab.WaitFor("the events", `document.querySelectorAll('#events-body tr[data-event-id]').length > 0`)
	tab.Type("#f-email", sc.victim)
	tab.Click("#f-user-sessions")
	tab.WaitFor("the sessions", `document.querySelectorAll('#user-sessions-body button.revoke').length === 2`)
	for _, w := range []int64{390, 320, 700, 740} {
		tab.Viewport(w)
		if split := tab.SplitWords("#user-panel"); len(split) != 0 {
			t.Errorf("/admin/security at %d px: these button words break across lines: %q", w, split)
		}
	}
	tab.Viewport(0)
}

// Item 6: signing a device out asks first, naming it, even with a fresh
// token.
func TestBrowser_ConfirmNamesTheDevice(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	b := NewBrowser(t)
	email := "confirm@example.com"
	s.Register(t, email, apitest.Password)
	r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": apitest.Password, "device_name": "Pixel 8"}, apitest.UA(uaChromeAndroid))
	if r.Status != http.StatusOK {
		t.Fatalf("login = %d %s", r.Status, r.Body)
	}
	var pixel apitest.Tokens
	r.JSON(t, &pixel)
	tab := b.Tab()
	tab.Open(s.URL + "/account")
	tab.SignIn(email, apitest.Password) // a fresh token: no password prompt
	tab.WaitFor("two devices", `document.querySelectorAll('#devices li').length === 2`)

	tab.Click(device(pixel.SessionID, "button.signout"))
	tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
	text := tab.Text("#confirm-text")
	for _, want := range []string{"Sign out Pixel 8 · Chrome on Android", "last active just now"} {
		if !strings.Contains(text, want) {
			t.Errorf("confirmation %q lacks %q", text, want)
		}
	}
	tab.Screenshots("account-confirm")
	tab.Click("#confirm-no")
	tab.WaitFor("the dialog to close", `!document.getElementById('confirm').open`)
	if tab.Count(device(pixel.SessionID, "")) != 1 {
		t.Fatal("a cancelled confirmation signed the device out")
	}
	if r := s.Refresh(t, pixel.RefreshToken); r.Status != http.StatusOK {
		t.Fatalf("the Pixel after a cancelled sign-out = %d %s, want still signed in", r.Status, r.Body)
	}

	tab.Click("#signout-others")
	tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
	if got := tab.Text("#confirm-text"); !strings.Contains(got, "Pixel 8") {
		t.Errorf("the sign-out-others confirmation %q does not name the device", got)
	}
	tab.Click("#confirm-yes")
	tab.WaitFor("only this device", `document.querySelectorAll('#devices li').length === 1`)
	if tab.Count("#reauth[open]") != 0 {
		t.Error("a fresh token still got a password prompt")
	}
}

// Item 8: a refused re-authentication (429) counts down to Retry-After.
func TestBrowser_ReauthRateLimitCountsDown(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: map[string]string{"AUTHD_RATE_REAUTH_SESSION": "2-M"}})
	b := NewBrowser(t)
	email := "limited@example.com"
	s.Register(t, email, apitest.Password)
	other := s.Login(t, email, apitest.Password, apitest.UA(uaFirefoxWindows))
	tab := b.Tab()
	tab.Open(s.URL + "/account")
	tab.SignIn(email, apitest.Password)
	tab.Open(s.URL + "/account") // not fresh any more
	tab.WaitFor("two devices", `document.querySelectorAll('#devices li').length === 2`)
	tab.Click(device(other.SessionID, "button.signout"))
	tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
	tab.Click("#confirm-yes")
	tab.WaitFor("the password prompt", `document.getElementById('reauth').open`)
	for i := range 3 {
		tab.Type("#reauth-password", fmt.Sprintf("wrong password number %d", i))
		tab.PressEnter("#reauth-password")
		tab.WaitFor("an answer", `document.getElementById('reauth-error').textContent !== ''`)
		if strings.Contains(tab.Text("#reauth-error"), "Too many") {
			break
		}
		Eval[bool](tab, `(document.getElementById('reauth-error').textContent = '') === ''`)
	}
	tab.WaitFor("the wait", `document.getElementById('reauth-wait').textContent.includes('Try again in')`)
	if got := tab.Text("#reauth-error"); !strings.Contains(got, "You can try again in") {
		t.Errorf("error = %q, want when to try again", got)
	}
	first := tab.Text("#reauth-wait")
	tab.WaitFor("the countdown to move", fmt.Sprintf(`document.getElementById('reauth-wait').textContent !== %s`, jsString(first)))
	if !Eval[bool](tab, `document.querySelector('#reauth-form button[type=submit]').disabled`) {
		t.Error("Continue is enabled during the wait")
	}
	tab.Screenshots("account-reauth-wait")
	tab.Click("#reauth-cancel")
}
