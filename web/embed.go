// Package web holds authd's browser pages: the account settings page and
// the security review page. They are plain HTML, CSS and JavaScript with no
// build step, compiled into the binary so that authd serves them itself,
// with no CDN and under a strict Content-Security-Policy.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Static returns the page files (HTML, CSS, JavaScript), rooted at the
// static folder.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		// fs.Sub only fails for an invalid path; "static" is a constant.
		panic(err)
	}
	return sub
}
