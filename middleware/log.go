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
		route := routeOf(c)
		attrs := []slog.Attr{
			slog.String("request_id", RequestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", c.Writer.Status()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if p, ok := Principal(c); ok {
			attrs = append(attrs, slog.String("user_id", p.UserID.String()), slog.String("session_id", p.SessionID.String()))
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
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
