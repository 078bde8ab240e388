package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"
)

// Recover turns a panic into a 500 problem that leaks nothing; the stack goes
// to the server log only, and the process keeps serving.
func Recover(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			log.Error("panic", slog.String("request_id", RequestID(c)), slog.String("route", c.FullPath()),
				slog.String("panic", fmt.Sprint(rec)), slog.String("stack", string(debug.Stack())))
			if !c.Writer.Written() {
				WriteProblem(c, fmt.Errorf("panic: %v", rec))
			} else {
				c.Abort()
			}
		}()
		c.Next()
	}
}
