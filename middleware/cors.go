package middleware

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/rs/cors"
)

// CORS lets browser apps on exactly the given origins call authd with
// credentials (the refresh cookie), and no other origin: an origin not in
// the list, including "null" (sandboxed frames, file: pages), gets no
// Access-Control-Allow-Origin (SESS-13, ASVS 4.0.3 V14.5.3). It returns nil
// when origins is empty: same-origin use only.
//
// rs/cors does the protocol work (preflight answers, Vary, the header
// lists). It was picked over gin-contrib/cors because that one answers a
// request from an origin not on the list with a bare 403 without a problem
// body, and treats list entries as wildcards or regular expressions; here
// origins match only exactly, through AllowOriginFunc.
func CORS(origins []string) gin.HandlerFunc {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		// Browsers send an origin as scheme://host[:port], lower case, with
		// no path.
		o = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		if o != "" && o != "null" {
			allowed[o] = true
		}
	}
	if len(allowed) == 0 {
		return nil
	}
	c := cors.New(cors.Options{
		AllowOriginFunc:  func(origin string) bool { return allowed[origin] },
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Requested-With", "X-Request-ID"},
		ExposedHeaders:   []string{"X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		AllowCredentials: true,
		MaxAge:           600,
	})
	return func(g *gin.Context) {
		r := g.Request
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// A preflight is answered here (204, with the CORS headers only
			// for an allowed origin) and goes no further.
			c.HandlerFunc(g.Writer, r)
			g.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.HandlerFunc(g.Writer, r)
		g.Next()
	}
}
