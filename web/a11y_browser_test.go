package web_test

import (
	"testing"

	"github.com/authd/authd/internal/apitest"
)

// Acceptance: axe-core finds no violation on either page at 1280 and
// 390 px, signed in and signed out (with the confirmation and password
// dialogs open too); live regions hold no list.
func TestBrowser_PagesAccessible(t *testing.T) {
	sc := newTheftScene(t)
	s := sc.s
	b := NewBrowser(t)
	tab := b.Tab()
	audit := func(t *testing.T, name, ready string) {
		t.Helper()
		tab := tab.For(t)
		for _, w := range []int64{1280, 390} {
			tab.Viewport(w)
			tab.WaitFor(name+" ready", ready)
			tab.Audit(name + map[int64]string{1280: " at 1280 px", 390: " at 390 px"}[w])
		}
		tab.Viewport(0)
		tab.Screenshots("a11y-" + name)
		// Live regions announce changes, never a whole list.
		if lists := Eval[[]string](tab, `[...document.querySelectorAll('[aria-live], [role=status], [role=alert]')].filter((e) => e.querySelector('li, tr')).map((e) => e.id || e.tagName)`); len(lists) != 0 {
			t.Errorf("%s: live regions around lists: %v", name, lists)
		}
	}
	t.Run("account signed out", func(t *testing.T) {
		tab.For(t).Open(s.URL + "/account")
		audit(t, "account-signed-out", Visible("#signin-form"))
	})
	t.Run("account signed in", func(t *testing.T) {
		tab := tab.For(t)
		tab.SignIn(sc.victim, apitest.Password)
		audit(t, "account-signed-in", `document.querySelectorAll('#devices li').length === 3 && document.querySelectorAll('#activity li').length > 0`)
		tab.Click(device(sc.lap.SessionID, "button.signout"))
		audit(t, "account-confirm", `document.getElementById('confirm').open`)
		tab.Click("#confirm-no")
	})
	t.Run("admin signed out", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click("#signout")
		tab.Open(s.URL + "/admin/security")
		audit(t, "admin-signed-out", Visible("#signin-form"))
	})
	t.Run("admin signed in", func(t *testing.T) {
		tab := tab.For(t)
		tab.SignIn(sc.admin, apitest.Password)
		audit(t, "admin-signed-in", `document.querySelectorAll('#events-body tr[data-event-id]').length === 50 && document.querySelectorAll('#theft-list li').length > 0 && !document.querySelector('#events-body .user-link').textContent.includes('-')`)
		tab.Click("#theft-list li.theft:not(.warning) button.theft-open")
		audit(t, "admin-user-sessions", Visible("#user-sessions-body tr[data-session-id]"))
		tab.Open(s.URL + "/admin/security") // not fresh: a revoke asks for the password
		tab.WaitFor("the events", `document.querySelectorAll('#events-body tr[data-event-id]').length === 50`)
		tab.Click("#theft-list li.theft:not(.warning) button.theft-open")
		tab.Click("#user-sessions-body button.revoke")
		tab.WaitFor("the confirmation", `document.getElementById('confirm').open`)
		tab.Click("#confirm-yes")
		audit(t, "admin-reauth", `document.getElementById('reauth').open`)
		tab.Click("#reauth-cancel")
	})
	t.Run("refused", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click("#signout")
		tab.WaitFor("the sign-in form", Visible("#signin-form"))
		tab.SignIn("bystander@example.com", apitest.Password)
		audit(t, "admin-refused", Visible("#refusal"))
	})
}
