package middleware

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"
)

// requestIDHeader is X-Request-ID in canonical form: looked up and set
// under it directly, the header costs no canonicalized copy of its name
// per request.
const requestIDHeader = "X-Request-Id"

// RequestIDs echoes a sane X-Request-ID from the client (up to 64 of
// [A-Za-z0-9._-]) or makes a new one, and sets it on every response.
func RequestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		var id string
		if v := c.Request.Header[requestIDHeader]; len(v) > 0 {
			id = v[0]
		}
		if !saneID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		// The response header is where RequestID reads it back: no
		// c.Set, whose map gin allocates anew for every request.
		c.Writer.Header()[requestIDHeader] = []string{id}
		c.Next()
	}
}

// RequestID returns the id of the request (set on the response by
// RequestIDs), or "" outside it.
func RequestID(c *gin.Context) string {
	if v := c.Writer.Header()[requestIDHeader]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func saneID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}
