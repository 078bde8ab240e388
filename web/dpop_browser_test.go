package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"

	"github.com/authd/authd/internal/apitest"
)

// TestBrowser_DPoPBindsTheBrowser: the account page binds its session to a
// non-extractable key in IndexedDB; the refresh cookie and the access token
// copied out of that browser are useless in another browser context and
// from a script without the key, and the page itself keeps working.
func TestBrowser_DPoPBindsTheBrowser(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	email := "bound@example.com"
	s.Register(t, email, apitest.Password)
	owner := NewBrowser(t).Tab()
	owner.Open(s.URL + "/account")
	owner.SignIn(email, apitest.Password)
	owner.WaitFor("the key-bound mark", `[...document.querySelectorAll('#devices .key-bound')].some((e) => e.textContent === "Bound to this device's key")`)

	if !Eval[bool](owner, `new Promise((resolve, reject) => {
		const open = indexedDB.open('authd-dpop', 1);
		open.onerror = () => reject(open.error);
		open.onsuccess = () => {
			const get = open.result.transaction('keys').objectStore('keys').get('device');
			get.onsuccess = () => resolve(!!get.result && get.result.privateKey.extractable === false &&
				get.result.privateKey.algorithm.namedCurve === 'P-256');
		};
	})`) {
		t.Fatal("IndexedDB holds no non-extractable P-256 key")
	}

	// The access token, as the page sends it.
	auth := Eval[string](owner, `import('/static/api.js').then(async (api) => {
		const orig = window.fetch;
		let seen = '';
		window.fetch = (path, init) => { seen = (init && init.headers && init.headers.Authorization) || seen; return orig(path, init); };
		try { await api.request('GET', '/v1/me'); } finally { window.fetch = orig; }
		return seen;
	})`)
	token, ok := strings.CutPrefix(auth, "DPoP ")
	if !ok {
		t.Fatalf("the page sends Authorization %q, want a DPoP token", auth)
	}
	cookie := refreshCookie(t, owner)

	t.Run("a copied access token is useless without the key", func(t *testing.T) {
		thief := apitest.NewDPoPKey(t, jose.ES256, nil)
		for name, headers := range map[string][]apitest.Header{
			"as Bearer":          {apitest.Bearer(token)},
			"as DPoP, no proof":  {apitest.DPoPAuth(token)},
			"with another key's": {apitest.DPoPAuth(token), apitest.DPoP(thief.Proof(t, "GET", s.URL+"/v1/me", token))},
		} {
			if r := s.Do(t, "GET", "/v1/me", nil, headers...); r.Status != http.StatusUnauthorized {
				t.Errorf("GET /v1/me with the copied token %s = %d, want 401", name, r.Status)
			}
		}
	})

	t.Run("a copied refresh cookie is useless in another browser", func(t *testing.T) {
		other := NewBrowser(t).Tab().For(t)
		other.Open(s.URL + "/account")
		other.WaitFor("the sign-in form", Visible("#signin-form"))
		if _, err := chromedp.Call(other.ctx, network.SetCookie, network.SetCookieParams{
			Name: "authd_refresh", Value: cookie, URL: s.URL, Path: "/", HTTPOnly: ptr(true),
		}); err != nil {
			t.Fatal(err)
		}
		code := Eval[string](other, `import('/static/api.js').then((api) => api.refresh().then(() => 'signed in', (err) => err.code))`)
		if code != "invalid_dpop_proof" {
			t.Fatalf("refresh with the copied cookie in another browser = %q, want invalid_dpop_proof", code)
		}
		other.Open(s.URL + "/account")
		other.WaitFor("still the sign-in form", Visible("#signin-form"))
		if r := s.Refresh(t, cookie); r.Code() != "invalid_dpop_proof" {
			t.Fatalf("refresh with the copied cookie and no key = %d %s, want invalid_dpop_proof", r.Status, r.Body)
		}
	})

	t.Run("the owner's browser stays signed in", func(t *testing.T) {
		owner := owner.For(t)
		owner.Open(s.URL + "/account")
		owner.WaitFor("signed in after reload", `document.getElementById('who-email').textContent === "`+email+`" && !document.getElementById('account').hidden`)
		got := Eval[string](owner, `import('/static/api.js').then((api) => api.api('GET', '/v1/me')).then((me) => me.email)`)
		if got != email {
			t.Fatalf("GET /v1/me from the owner's page = %q, want %q", got, email)
		}
	})
}
