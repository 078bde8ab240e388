package middleware

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
)

// AccessLog writes one line per request: request id, method, route, status,
// duration_ms (milliseconds as a float, the unit log tools expect), and the user and session ids when known. It never logs the query
// string, headers, bodies or the full client address.
func AccessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		ctx, route := c.Request.Context(), routeOf(c)
		id, method, status := RequestID(c), c.Request.Method, c.Writer.Status()
		ms := float64(time.Since(start).Microseconds()) / 1000
		// The attributes are passed as arguments, not gathered in a slice
		// first, which would be one more allocation per request.
		if p, ok := Principal(c); ok {
			log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", id), slog.String("method", method),
				slog.String("route", route), slog.Int("status", status), slog.Float64("duration_ms", ms),
				slog.String("user_id", p.UserID.String()), slog.String("session_id", p.SessionID.String()))
			return
		}
		log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", id), slog.String("method", method),
			slog.String("route", route), slog.Int("status", status), slog.Float64("duration_ms", ms))
	}
}

// routeOf is the request's route pattern, the label of its logs and
// metrics ("unmatched" when no route matched: never the raw path).
func routeOf(c *gin.Context) string {
	if route := c.FullPath(); route != "" {
		return route
	}
	return "unmatched"
}
