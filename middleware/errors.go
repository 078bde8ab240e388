// Package middleware holds authd's gin middleware: problem+json errors,
// request ids, panic recovery, Bearer authentication, access logs and
// security headers.
package middleware

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// statusOf is the only map from error codes to HTTP statuses.
var statusOf = map[string]int{
	services.CodeInvalidRequest:     http.StatusBadRequest,
	services.CodeWeakPassword:       http.StatusBadRequest,
	services.CodePasswordTooLong:    http.StatusBadRequest,
	services.CodePayloadTooLarge:    http.StatusRequestEntityTooLarge,
	services.CodeUnsupportedMedia:   http.StatusUnsupportedMediaType,
	services.CodeEmailTaken:         http.StatusConflict,
	services.CodeLastAdmin:          http.StatusConflict,
	services.CodeSignupDisabled:     http.StatusForbidden,
	services.CodeForbidden:          http.StatusForbidden,
	services.CodeRateLimited:        http.StatusTooManyRequests,
	services.CodeInvalidCredentials: http.StatusUnauthorized,
	services.CodeInvalidToken:       http.StatusUnauthorized,
	services.CodeTokenExpired:       http.StatusUnauthorized,
	services.CodeRefreshTokenReused: http.StatusUnauthorized,
	services.CodeSessionRevoked:     http.StatusUnauthorized,
	services.CodeFreshTokenRequired: http.StatusUnauthorized,
	services.CodeNotFound:           http.StatusNotFound,
	services.CodeMethodNotAllowed:   http.StatusMethodNotAllowed,
	services.CodeOverloaded:         http.StatusServiceUnavailable,
	services.CodeUnavailable:        http.StatusServiceUnavailable,
	services.CodeInternal:           http.StatusInternalServerError,
}

// titles are the short human titles of the problem types.
var titles = map[string]string{
	services.CodeInvalidRequest:     "Invalid request",
	services.CodeWeakPassword:       "Weak password",
	services.CodePasswordTooLong:    "Password too long",
	services.CodePayloadTooLarge:    "Payload too large",
	services.CodeUnsupportedMedia:   "Unsupported media type",
	services.CodeEmailTaken:         "Email taken",
	services.CodeLastAdmin:          "Last admin",
	services.CodeSignupDisabled:     "Sign-up disabled",
	services.CodeForbidden:          "Forbidden",
	services.CodeRateLimited:        "Too many requests",
	services.CodeInvalidCredentials: "Invalid credentials",
	services.CodeInvalidToken:       "Invalid token",
	services.CodeTokenExpired:       "Token expired",
	services.CodeRefreshTokenReused: "Refresh token reused",
	services.CodeSessionRevoked:     "Session revoked",
	services.CodeFreshTokenRequired: "Fresh token required",
	services.CodeNotFound:           "Not found",
	services.CodeMethodNotAllowed:   "Method not allowed",
	services.CodeOverloaded:         "Overloaded",
	services.CodeUnavailable:        "Service unavailable",
	services.CodeInternal:           "Internal error",
}

// defaultDetails are shown when an error carries no detail of its own.
var defaultDetails = map[string]string{
	services.CodeUnavailable: "The service cannot reach its database; try again shortly.",
	services.CodeInternal:    "Something went wrong on our side. Quote the request id if you report it.",
	services.CodeNotFound:    "No such resource.",
}

// StatusOf returns the HTTP status of an error code.
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem details body with authd's stable code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// ProblemFor returns the problem body of err.
func ProblemFor(err error) Problem {
	code := services.ErrorCode(err)
	detail := services.ErrorDetail(err)
	if detail == "" {
		detail = defaultDetails[code]
	}
	if detail == "" {
		detail = titles[code] + "."
	}
	return Problem{
		Type:   "https://authd.dev/problems/" + code,
		Title:  titles[code],
		Status: StatusOf(code),
		Detail: detail,
		Code:   code,
	}
}

// WriteProblem writes err as application/problem+json and aborts.
func WriteProblem(c *gin.Context, err error) {
	p := ProblemFor(err)
	switch p.Code {
	case services.CodeUnavailable:
		c.Header("Retry-After", "2")
	case services.CodeOverloaded:
		c.Header("Retry-After", "1")
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(p.Status, p)
}

// Errors renders the error a handler left in c.Errors as problem+json, and
// logs internal causes (never shown to the client) with the request id.
func Errors(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		code := services.ErrorCode(err)
		var pub *services.Error
		if !errors.As(err, &pub) {
			log.LogAttrs(c.Request.Context(), levelFor(code), "request failed",
				slog.String("request_id", RequestID(c)), slog.String("code", code),
				slog.String("route", c.FullPath()), slog.String("error", err.Error()))
		}
		WriteProblem(c, err)
	}
}

func levelFor(code string) slog.Level {
	if code == services.CodeInternal {
		return slog.LevelError
	}
	return slog.LevelWarn
}

// NotFound answers unknown routes with a problem.
func NotFound(c *gin.Context) {
	WriteProblem(c, services.Errorf(services.CodeNotFound, "No such endpoint."))
}

// MethodNotAllowed answers a known path with the wrong method.
func MethodNotAllowed(c *gin.Context) {
	WriteProblem(c, services.Errorf(services.CodeMethodNotAllowed, "This method is not allowed here."))
}
