package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
	"github.com/authd/authd/web"
)

// pagePolicy is the Content-Security-Policy of the browser pages (HTTP-07):
// only our own scripts, styles and API, no inline script or style, no
// framing, no <base>, forms only to ourselves. Trusted Types make any
// string-to-HTML sink (innerHTML and friends) throw, so that an event's user
// agent, which an attacker chooses, can only ever be rendered as text.
const pagePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// pageCache lets browsers keep the files but revalidate them on every use
// (a cheap 304 through the ETag), so a new release shows up at once
// without fingerprinted file names.
const pageCache = "no-cache"

// pageFile is one embedded file, read once at startup.
type pageFile struct {
	name        string
	data        []byte
	etag        string
	contentType string
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// includeLine is a server-side include in a page: the whole line
// `<!--#include partials/x.html-->` stands for that file of the same FS.
// The markup every page shares (head, dialogs, live region, sign-in form)
// is written once in partials/ and the browser still gets one plain HTML
// document, resolved here once at startup. An include may name values,
// `<!--#include partials/head.html title="Account settings"-->`, for the
// {{title}} of the partial: the few words in which pages differ. Values
// are markup of our own embedded pages, used as written.
var includeLine = regexp.MustCompile(`(?m)^[ \t]*<!--#include ([\w./-]+)((?: [a-z]+="[^"]*")*)-->\n`)

var (
	includeValue = regexp.MustCompile(`([a-z]+)="([^"]*)"`)
	placeholder  = regexp.MustCompile(`\{\{[a-z]+\}\}`)
)

// expandIncludes replaces every include line of page by its file, with
// the values of the line in place of their placeholders; a placeholder
// left without a value is an error. Partials do not include further.
func expandIncludes(fsys fs.FS, page []byte) ([]byte, error) {
	var err error
	out := includeLine.ReplaceAllFunc(page, func(line []byte) []byte {
		m := includeLine.FindSubmatch(line)
		name := string(m[1])
		part, e := fs.ReadFile(fsys, name)
		for _, v := range includeValue.FindAllSubmatch(m[2], -1) {
			part = bytes.ReplaceAll(part, []byte("{{"+string(v[1])+"}}"), v[2])
		}
		if left := placeholder.Find(part); e == nil && left != nil {
			e = fmt.Errorf("no value for %s", left)
		}
		if e != nil && err == nil {
			err = fmt.Errorf("include %s: %w", name, e)
		}
		return part
	})
	return out, err
}

// loadPages reads every file of fsys that has a known content type, with
// the includes of its HTML pages expanded.
func loadPages(fsys fs.FS) (map[string]pageFile, error) {
	files := map[string]pageFile{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err == nil && ct == contentTypes[".html"] {
			data, err = expandIncludes(fsys, data)
		}
		if err != nil {
			return fmt.Errorf("read page file %s: %w", p, err)
		}
		sum := sha256.Sum256(data)
		files[p] = pageFile{name: p, data: data, contentType: ct,
			etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
		return nil
	})
	return files, err
}

// servePage writes f with the page headers; http.ServeContent answers
// If-None-Match with 304 and HEAD without a body.
func servePage(c *gin.Context, f pageFile) {
	h := c.Writer.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("Cache-Control", pageCache)
	h.Set("ETag", f.etag)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	http.ServeContent(c.Writer, c.Request, f.name, time.Time{}, bytes.NewReader(f.data))
}

var errNoPageFile = services.Errorf(services.CodeNotFound, "No such file.")

// registerPages serves the account settings page at /account, the security
// review page at /admin/security and their assets under /static/. The pages
// are public HTML: they sign in through the API and show nothing until it
// answers, and the admin page's data comes from the admin-only API.
func registerPages(r *gin.Engine) {
	files, err := loadPages(web.Static())
	if err != nil {
		// The files are compiled into the binary; failing to read them is a
		// broken build, not a runtime condition.
		panic(err)
	}
	page := func(name string) gin.HandlerFunc {
		f, ok := files[name]
		if !ok {
			panic("handlers: missing embedded page " + name)
		}
		return func(c *gin.Context) { servePage(c, f) }
	}
	asset := handle(func(c *gin.Context) error {
		name := strings.TrimPrefix(c.Param("path"), "/")
		f, ok := files[name]
		if !ok || path.Ext(name) == ".html" {
			return errNoPageFile
		}
		servePage(c, f)
		return nil
	})
	for _, route := range []struct {
		path string
		h    gin.HandlerFunc
	}{
		{"/account", page("account.html")},
		{"/admin/security", page("admin-security.html")},
		{"/static/*path", asset},
		// Browsers ask for it on every site; embedded like the rest.
		{"/favicon.ico", page("favicon.ico")},
	} {
		r.GET(route.path, route.h)
		r.HEAD(route.path, route.h)
	}
	// A person who opens the bare address lands on their account page
	// rather than a 404. 302, not 301: browsers cache a 301 for good, and
	// the root may serve something else one day.
	home := func(c *gin.Context) { c.Redirect(http.StatusFound, "/account") }
	r.GET("/", home)
	r.HEAD("/", home)
}
