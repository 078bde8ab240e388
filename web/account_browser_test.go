package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/internal/apitest"
)

const (
	uaFirefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaSafariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
	uaChromeAndroid  = "Mozilla/5.0 (Linux; Android 14; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"
)

// wantRefreshRefused checks through the API that a device's refresh token
// no longer works.
func wantRefreshRefused(t *testing.T, s *apitest.Server, tok apitest.Tokens, device string) {
	t.Helper()
	r := s.Refresh(t, tok.RefreshToken)
	if r.Status != http.StatusUnauthorized || r.Code() != "session_revoked" {
		t.Errorf("refresh of %s after sign-out = %d %q, want 401 session_revoked", device, r.Status, r.Code())
	}
}

func device(id, inner string) string {
	return fmt.Sprintf(`#devices li[data-session-id=%q] %s`, id, inner)
}

func TestBrowser_AccountDevices(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	b := NewBrowser(t)
	email := "devices@example.com"
	s.Register(t, email, apitest.Password)
	// Three other devices, signed in through the API.
	firefox := s.Login(t, email, apitest.Password, apitest.UA(uaFirefoxWindows))
	iphone := s.Login(t, email, apitest.Password, apitest.UA(uaSafariIPhone))
	android := s.Login(t, email, apitest.Password, apitest.UA(uaChromeAndroid))

	tab := b.Tab()
	tab.Open(s.URL + "/account")
	tab.SignIn(email, apitest.Password)
	tab.WaitFor("four devices", `document.querySelectorAll('#devices li').length === 4`)

	var browserSession string
	t.Run("every device with its browser, OS, address and activity", func(t *testing.T) {
		tab := tab.For(t)
		for _, ses := range s.Sessions(t, firefox.AccessToken) {
			if ses.ID != firefox.SessionID && ses.ID != iphone.SessionID && ses.ID != android.SessionID {
				browserSession = ses.ID
			}
			// "browser on OS" once: as the name of an unnamed device, or
			// next to the name.
			want := ses.Browser + " on " + ses.OS
			name, platform := tab.Text(device(ses.ID, ".device-name")), tab.Text(device(ses.ID, ".device-platform"))
			if !strings.Contains(name+" "+platform, ses.Browser) || strings.Count(name+" "+platform, ses.Browser) != 1 {
				t.Errorf("device %s shows name %q and platform %q, want %q once", ses.ID, name, platform, want)
			}
			if ip := tab.Text(device(ses.ID, ".device-ip")); !strings.Contains(ip, ses.IPPrefix) || ses.IPPrefix == "" {
				t.Errorf("device %s shows address %q, want the prefix %q", ses.ID, ip, ses.IPPrefix)
			}
			if active := tab.Text(device(ses.ID, ".device-active")); !strings.HasPrefix(active, "Last active ") ||
				!(strings.Contains(active, "now") || strings.Contains(active, "ago")) {
				t.Errorf("device %s shows %q, want a relative last-active time", ses.ID, active)
			}
		}
		for _, want := range []string{"Firefox", "Windows", "Safari", "iPhone", "Android"} {
			if !strings.Contains(tab.Text("#devices"), want) {
				t.Errorf("the device list does not mention %s", want)
			}
		}
		if browserSession == "" {
			t.Fatal("the browser's own session is not in the list")
		}
		if n := tab.Count("#devices li.current"); n != 1 {
			t.Fatalf("%d devices are marked current, want 1", n)
		}
		if got := tab.Text("#devices li.current"); !strings.Contains(got, "This device") ||
			Eval[string](tab, `document.querySelector('#devices li.current').dataset.sessionId`) != browserSession {
			t.Errorf("the current device mark is on the wrong device: %q", got)
		}
	})
	tab.Screenshots("account-devices")

	t.Run("rename a device", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click(device(iphone.SessionID, "button.rename"))
		input := "#rename-" + iphone.SessionID
		tab.WaitFor("the rename field", Visible(input))
		tab.Type(input, "Ada's iPhone")
		tab.PressEnter(input)
		tab.WaitFor("the new name", fmt.Sprintf(`(document.querySelector(%s) || {}).textContent === "Ada's iPhone"`, jsString(device(iphone.SessionID, ".device-name"))))
		for _, ses := range s.Sessions(t, iphone.AccessToken) {
			if ses.ID == iphone.SessionID && ses.DeviceName != "Ada's iPhone" {
				t.Errorf("the API has the name %q, want Ada's iPhone", ses.DeviceName)
			}
		}
	})

	t.Run("sign one device out after confirming the password", func(t *testing.T) {
		tab := tab.For(t)
		// A reload trades the cookie for a new access token, which is not
		// fresh: signing another device out must ask for the password.
		tab.Open(s.URL + "/account")
		tab.WaitFor("four devices", `document.querySelectorAll('#devices li').length === 4`)
		tab.Click(device(firefox.SessionID, "button.signout"))
		tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
		tab.Click("#confirm-yes")
		tab.WaitFor("the password prompt", `document.getElementById('reauth').open`)
		tab.Screenshots("account-reauth")
		tab.Type("#reauth-password", "wrong password, surely")
		tab.PressEnter("#reauth-password")
		tab.WaitFor("the prompt's error", `document.getElementById('reauth-error').textContent !== ''`)
		tab.Type("#reauth-password", apitest.Password)
		tab.PressEnter("#reauth-password")
		tab.WaitFor("the device to disappear", fmt.Sprintf(`!document.querySelector(%s) && document.querySelectorAll('#devices li').length === 3`,
			jsString(fmt.Sprintf(`#devices li[data-session-id=%q]`, firefox.SessionID))))
		if open := Eval[bool](tab, `document.getElementById('reauth').open`); open {
			t.Error("the password prompt is still open")
		}
		wantRefreshRefused(t, s, firefox, "the signed-out Firefox")
	})

	t.Run("sign out all other devices", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click("#signout-others")
		tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
		tab.Click("#confirm-yes")
		tab.WaitFor("only this device", `document.querySelectorAll('#devices li').length === 1 && document.querySelector('#devices li.current')`)
		if got := tab.Text("#devices-status"); !strings.Contains(got, "2 other devices") {
			t.Errorf("message = %q, want it to count 2 other devices", got)
		}
		if tab.Count("#signout-others:not([hidden])") != 0 {
			t.Error("the sign-out-others button still shows with no other device")
		}
		wantRefreshRefused(t, s, iphone, "the iPhone")
		wantRefreshRefused(t, s, android, "the Android phone")
	})

	const newPassword = "violet tangerine harbour 1987"
	t.Run("change the password", func(t *testing.T) {
		tab := tab.For(t)
		other := s.Login(t, email, apitest.Password, apitest.UA(uaFirefoxWindows))
		tab.Type("#current-password", apitest.Password)
		tab.Type("#new-password", newPassword)
		tab.Type("#confirm-password", newPassword)
		tab.PressEnter("#confirm-password")
		tab.WaitFor("the confirmation", `document.getElementById('password-status').textContent.includes('Password changed')`)
		if got := tab.Text("#password-status"); !strings.Contains(got, "other devices were signed out") {
			t.Errorf("message = %q, want it to say other devices were signed out", got)
		}
		wantRefreshRefused(t, s, other, "a device signed in before the change")
		s.Login(t, email, newPassword)
		if tab.Count("#devices li.current") != 1 {
			t.Error("this device should stay signed in")
		}
	})

	t.Run("a session revoked elsewhere returns to the sign-in form", func(t *testing.T) {
		tab := tab.For(t)
		elsewhere := s.Login(t, email, newPassword, apitest.UA(uaChromeAndroid))
		if r := s.Do(t, "DELETE", "/v1/sessions/"+browserSession, nil, apitest.Bearer(elsewhere.AccessToken)); r.Status != http.StatusNoContent {
			t.Fatalf("revoke the browser's session = %d %s", r.Status, r.Body)
		}
		// Coming back to the tab re-reads the list, which finds the session gone.
		tab.WaitFor("the sign-in form", `(document.dispatchEvent(new Event('visibilitychange')), !document.getElementById('signin').hidden)`)
		if got := tab.Text("#signin-message"); !strings.Contains(got, "signed out") {
			t.Errorf("message = %q, want it to explain the sign-out", got)
		}
		tab.Screenshots("account-revoked")
	})
}
