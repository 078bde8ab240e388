package middleware

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
)

// SecurityHeaders sets the baseline headers on every response, and
// Strict-Transport-Security when serving TLS.
func SecurityHeaders(hsts bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		// Assigned, not Set: Header.Set allocates a one-element slice per
		// header and request (about a tenth of the bytes a refresh
		// allocates); these shared slices are never written to, and an Add
		// to one of these headers appends to a copy (len == cap).
		h["X-Content-Type-Options"] = valNosniff
		h["Referrer-Policy"] = valNoReferrer
		h["X-Frame-Options"] = valDeny
		if hsts {
			h["Strict-Transport-Security"] = valHSTS
		}
		c.Next()
	}
}

// The values of the headers every response carries, in canonical form,
// with len == cap so that an Add cannot write into them.
var (
	valNosniff    = []string{"nosniff"}[:1:1]
	valNoReferrer = []string{"no-referrer"}[:1:1]
	valDeny       = []string{"DENY"}[:1:1]
	valHSTS       = []string{"max-age=31536000; includeSubDomains"}[:1:1]
	valNoStore    = []string{"no-store"}[:1:1]
	valNoCache    = []string{"no-cache"}[:1:1]
)

// NoStore marks responses as not cacheable: API answers carry tokens or
// personal data (RFC 6749 §5.1).
func NoStore(c *gin.Context) {
	h := c.Writer.Header()
	h["Cache-Control"] = valNoStore
	h["Pragma"] = valNoCache
	c.Next()
}

// Timeout bounds the work of one request: a database that hangs turns into
// 503 unavailable instead of a client that waits forever.
func Timeout(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d <= 0 {
			c.Next()
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
