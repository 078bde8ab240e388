package middleware

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/metrics"
)

// Metrics observes the duration of every request by route template, method
// and final status. Place it before Errors so that it sees the status of
// the problem response Errors writes.
func Metrics() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := routeOf(c)
		metrics.RequestDuration.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).
			Observe(time.Since(start).Seconds())
	}
}
