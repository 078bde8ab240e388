package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authd/authd/internal/apitest"
)

func TestBrowser_SignIn(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	b := NewBrowser(t)
	email := "ada@example.com"
	s.Register(t, email, apitest.Password)
	tab := b.Tab()

	tab.Open(s.URL + "/account")
	tab.WaitFor("the sign-in form", Visible("#signin-form"))
	if tab.Count("#account:not([hidden])") != 0 {
		t.Fatal("the account settings show before anyone signed in")
	}
	tab.Screenshots("signin")

	t.Run("wrong password is refused", func(t *testing.T) {
		tab := tab.For(t)
		tab.Type("#signin-email", email)
		tab.Type("#signin-password", "not the password at all")
		tab.Click("#signin-form button[type=submit]")
		tab.WaitFor("the error", `document.getElementById('signin-error').textContent !== ''`)
		if got := tab.Text("#signin-error"); !strings.Contains(got, "not right") {
			t.Errorf("sign-in error = %q, want it to say the email or password is not right", got)
		}
	})

	t.Run("sign in with the keyboard", func(t *testing.T) {
		tab := tab.For(t)
		tab.SignIn(email, apitest.Password)
		tab.WaitFor("the account settings", Visible("#account"))
	})

	t.Run("tokens stay out of script-readable storage", func(t *testing.T) {
		tab := tab.For(t)
		if c := Eval[string](tab, `document.cookie`); strings.Contains(c, "authd_refresh") {
			t.Errorf("document.cookie = %q: the refresh cookie must be HttpOnly", c)
		}
		if n := Eval[int](tab, `localStorage.length + sessionStorage.length`); n != 0 {
			t.Errorf("web storage holds %d items, want none (the access token lives in memory)", n)
		}
	})

	t.Run("a reload stays signed in through the refresh cookie", func(t *testing.T) {
		tab := tab.For(t)
		tab.Open(s.URL + "/account")
		tab.WaitFor("signed in after reload", `document.getElementById('who-email').textContent === "`+email+`" && !document.getElementById('account').hidden`)
	})

	t.Run("sign out returns to the form and ends the session", func(t *testing.T) {
		tab := tab.For(t)
		tab.Click("#signout")
		tab.WaitFor("the sign-in form", Visible("#signin-form"))
		if got := tab.Text("#signin-message"); !strings.Contains(got, "signed out") {
			t.Errorf("message after sign-out = %q", got)
		}
		tab.Open(s.URL + "/account")
		tab.WaitFor("the sign-in form after reload", Visible("#signin-form"))
	})
}

// TestBrowser_ParallelRefresh is F1 in a browser: with no grace window, a
// second use of a rotated refresh token is theft. Two tabs that load at the
// same moment and several parallel refreshes in one tab must still never
// present the same cookie twice, so the session survives.
func TestBrowser_ParallelRefresh(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", Env: map[string]string{"AUTHD_REUSE_GRACE": "0s"}})
	b := NewBrowser(t)
	email := "grace@example.com"
	s.Register(t, email, apitest.Password)
	first := b.Tab()
	first.Open(s.URL + "/account")
	first.SignIn(email, apitest.Password)

	second := b.NewTab("tab 2")
	third := b.NewTab("tab 3")
	tabs := []*Tab{first, second, third}
	Parallel(t, tabs, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Navigate(s.URL+"/account"))
	})
	for _, tab := range []*Tab{first, second, third} {
		tab.WaitFor(tab.name+" signed in", `!document.getElementById('account').hidden`)
	}

	// Five refreshes at once in one tab share one request.
	got := Eval[int](first, `import('/static/api.js').then(async (api) => {
		const results = await Promise.all([1, 2, 3, 4, 5].map(() => api.refresh()));
		return new Set(results).size;
	})`)
	if got != 1 {
		t.Errorf("parallel refreshes in one tab gave %d different sessions objects, want 1 shared result", got)
	}
	// And all tabs again at once, through their own modules.
	// Several rounds: each is a race that a missing cross-tab lock loses.
	for range 8 {
		Parallel(t, tabs, func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
				`import('/static/api.js').then((api) => Promise.all([api.refresh(), api.refresh()])).then(() => true)`,
				chromedp.EvalAwaitPromise))
			return err
		})
	}
	for _, tab := range []*Tab{first, second, third} {
		tab.Open(s.URL + "/account")
		tab.WaitFor(tab.name+" still signed in", `!document.getElementById('account').hidden`)
	}
}

// TestBrowser_HarnessSeesViolations makes sure the watchers work: a style
// attribute, an HTML sink and a console error must all be reported.
func TestBrowser_HarnessSeesViolations(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	b := NewBrowser(t)
	tab := b.Tab()
	tab.Open(s.URL + "/account")
	tab.WaitFor("the sign-in form", Visible("#signin-form"))
	Eval[bool](tab, `(() => {
		document.body.setAttribute('style', 'color: red');
		try { document.body.insertAdjacentHTML('beforeend', '<b>x</b>'); } catch (e) {}
		console.error('harness self-test');
		return true;
	})()`)
	want := []string{"CSP violation: style-src", "CSP violation: require-trusted-types-for", "console error"}
	var got []string
	for range 40 {
		b.mu.Lock()
		got = append([]string(nil), b.problems...)
		b.mu.Unlock()
		if containsAll(got, want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !containsAll(got, want) {
		t.Errorf("the harness reported %q, want entries with each of %q", got, want)
	}
	b.mu.Lock()
	b.problems = nil // seen on purpose
	b.mu.Unlock()
}

func containsAll(got, want []string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			if strings.Contains(g, w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
