package handlers

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/authd/authd/web"
)

// TestLoadPages_ExpandsIncludes: every page is served whole, with the
// shared partials in place of their include lines and the include's values
// in the partial, and a missing partial or value fails at startup instead
// of serving a broken page.
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

	// The values of an include line fill the partial's placeholders; a
	// placeholder without a value fails at startup too.
	fsys = fstest.MapFS{
		"p.html":          {Data: []byte(`<!--#include partials/h.html title="Account settings" script="a.js"-->` + "\n<main></main>\n")},
		"partials/h.html": {Data: []byte("<title>{{title}} · authd</title>\n<script src=\"/static/{{script}}\"></script>\n")},
	}
	got, err = loadPages(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<title>Account settings · authd</title>\n<script src=\"/static/a.js\"></script>\n<main></main>\n"; string(got["p.html"].data) != want {
		t.Errorf("expanded page = %q, want %q", got["p.html"].data, want)
	}
	fsys["p.html"] = &fstest.MapFile{Data: []byte(`<!--#include partials/h.html title="Account settings"-->` + "\n")}
	if _, err := loadPages(fsys); err == nil || !strings.Contains(err.Error(), "{{script}}") {
		t.Errorf("loadPages with a placeholder left without a value = %v, want an error naming {{script}}", err)
	}
}
