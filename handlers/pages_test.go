package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/internal/apitest"
)

func TestPages_Serve(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	for _, tt := range []struct {
		path, contentType, contains string
	}{
		{"/account", "text/html; charset=utf-8", `<script type="module" src="/static/account.js">`},
		{"/admin/security", "text/html; charset=utf-8", `<script type="module" src="/static/admin.js">`},
		{"/static/api.js", "text/javascript; charset=utf-8", "navigator.locks"},
		{"/static/style.css", "text/css; charset=utf-8", ":root"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			r := s.Do(t, "GET", tt.path, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tt.path, r.Status)
			}
			if got := r.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			csp := r.Header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'",
				"img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, d+";") && !strings.HasSuffix(csp, d) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe-") {
				t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if !strings.Contains(string(r.Body), tt.contains) {
				t.Errorf("body of %s lacks %q", tt.path, tt.contains)
			}
			etag := r.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if again := s.Do(t, "GET", tt.path, nil, apitest.Header{Name: "If-None-Match", Value: etag}); again.Status != http.StatusNotModified {
				t.Errorf("GET with If-None-Match = %d, want 304", again.Status)
			}
		})
	}
}

func TestPages_NoInlineScriptOrStyle(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	for _, path := range []string{"/account", "/admin/security"} {
		body := string(s.Do(t, "GET", path, nil).Body)
		for _, bad := range []string{"<script>", " style=", "<style", "javascript:", " onclick=", " onload=", "http://", "https://"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q: the CSP would block it, or it loads from elsewhere", path, bad)
			}
		}
	}
}

func TestPages_UnknownAssets(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	for _, path := range []string{"/static/nope.js", "/static/account.html", "/static/../embed.go", "/static/"} {
		r := s.Do(t, "GET", path, nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.Status)
		}
	}
}

// Opening the bare address leads a person to their account page instead of
// a 404.
func TestPages_RootRedirectsToAccount(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	s.StopFollowingRedirects()
	for _, method := range []string{"GET", "HEAD"} {
		r := s.Do(t, method, "/", nil)
		if r.Status != http.StatusFound || r.Header.Get("Location") != "/account" {
			t.Errorf("%s / = %d Location %q, want 302 to /account", method, r.Status, r.Header.Get("Location"))
		}
	}
}

// Browsers ask every site for /favicon.ico; authd answers with its own
// embedded icon instead of a 404.
func TestPages_Favicon(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	r := s.Do(t, "GET", "/favicon.ico", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/x-icon" {
		t.Fatalf("GET /favicon.ico = %d %q, want 200 image/x-icon", r.Status, r.Header.Get("Content-Type"))
	}
	// An ICO directory: reserved 0, type 1 (icon), at least one image.
	if len(r.Body) < 22 || r.Body[0] != 0 || r.Body[1] != 0 || r.Body[2] != 1 || r.Body[3] != 0 || r.Body[4] == 0 {
		t.Fatalf("GET /favicon.ico body is not an ICO file (% x)", r.Body[:min(len(r.Body), 8)])
	}
	for _, page := range []string{"/account", "/admin/security"} {
		if body := string(s.Do(t, "GET", page, nil).Body); !strings.Contains(body, `<link rel="icon" href="/favicon.ico"`) {
			t.Errorf("%s does not link the icon", page)
		}
	}
}
