package handlers

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/authd/authd/web"
)

// TestLoadPages_ExpandsIncludes: every page is served whole, with the
// shared partials in place of their include lines, and a missing partial
// fails at startup instead of serving a broken page.
func TestLoadPages_ExpandsIncludes(t *testing.T) {
	files, err := loadPages(web.Static())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"account.html", "admin-security.html"} {
		f, ok := files[name]
		if !ok {
			t.Fatalf("loadPages: no %s", name)
		}
		if bytes.Contains(f.data, []byte("<!--#include")) {
			t.Errorf("%s still has an include line", name)
		}
		for _, id := range []string{`id="reauth"`, `id="confirm"`, `id="announcer"`, `id="signin-form"`} {
			if got := strings.Count(string(f.data), id); got != 1 {
				t.Errorf("%s has %d elements %s, want 1", name, got, id)
			}
		}
	}

	page := "<main>\n  <!--#include partials/x.html-->\n</main>\n"
	fsys := fstest.MapFS{"p.html": {Data: []byte(page)}, "partials/x.html": {Data: []byte("  <p>x</p>\n")}}
	got, err := loadPages(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<main>\n  <p>x</p>\n</main>\n"; string(got["p.html"].data) != want {
		t.Errorf("expanded page = %q, want %q", got["p.html"].data, want)
	}
	delete(fsys, "partials/x.html")
	if _, err := loadPages(fsys); err == nil {
		t.Error("loadPages with a missing partial: no error")
	}
}
