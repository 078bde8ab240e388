// Package middleware holds authd's gin middleware: problem+json errors,
// request ids, panic recovery, Bearer authentication, access logs and
// security headers.
package middleware

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// spec is what the contract says about one error code: the HTTP status and
// title of its problem, and the RFC 6749 §5.2 error the OAuth endpoints
// answer instead (empty where they never answer the code: invalid_request,
// or server_error for a 5xx).
type spec struct {
	Status int
	Title  string
	OAuth  string
}

// codes is the one table of error codes. Every refresh-token failure is
// invalid_grant under /oauth: the client's only remedy is to sign in again.
var codes = map[string]spec{
	services.CodeInvalidRequest:       {http.StatusBadRequest, "Invalid request", "invalid_request"},
	services.CodeWeakPassword:         {http.StatusBadRequest, "Weak password", ""},
	services.CodePasswordTooLong:      {http.StatusBadRequest, "Password too long", ""},
	services.CodeUnsupportedGrantType: {http.StatusBadRequest, "Unsupported grant type", "unsupported_grant_type"},
	services.CodeInvalidScope:         {http.StatusBadRequest, "Invalid scope", "invalid_scope"},
	services.CodePayloadTooLarge:      {http.StatusRequestEntityTooLarge, "Payload too large", "invalid_request"},
	services.CodeUnsupportedMedia:     {http.StatusUnsupportedMediaType, "Unsupported media type", "invalid_request"},
	services.CodeEmailTaken:           {http.StatusConflict, "Email taken", ""},
	services.CodeLastAdmin:            {http.StatusConflict, "Last admin", ""},
	services.CodeSignupDisabled:       {http.StatusForbidden, "Sign-up disabled", ""},
	services.CodeForbidden:            {http.StatusForbidden, "Forbidden", ""},
	services.CodeRateLimited:          {http.StatusTooManyRequests, "Too many requests", "rate_limited"},
	services.CodeInvalidCredentials:   {http.StatusUnauthorized, "Invalid credentials", ""},
	services.CodeInvalidToken:         {http.StatusUnauthorized, "Invalid token", "invalid_grant"},
	services.CodeTokenExpired:         {http.StatusUnauthorized, "Token expired", "invalid_grant"},
	services.CodeRefreshTokenReused:   {http.StatusUnauthorized, "Refresh token reused", "invalid_grant"},
	services.CodeSessionRevoked:       {http.StatusUnauthorized, "Session revoked", "invalid_grant"},
	services.CodeFreshTokenRequired:   {http.StatusUnauthorized, "Fresh token required", ""},
	services.CodeNotFound:             {http.StatusNotFound, "Not found", ""},
	services.CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed", ""},
	services.CodeOverloaded:           {http.StatusServiceUnavailable, "Overloaded", "temporarily_unavailable"},
	services.CodeUnavailable:          {http.StatusServiceUnavailable, "Service unavailable", "temporarily_unavailable"},
	services.CodeInternal:             {http.StatusInternalServerError, "Internal error", "server_error"},
	// /oauth/token answers these with 400 and the same name (RFC 9449 §5, §8).
	services.CodeInvalidDPoPProof: {http.StatusUnauthorized, "Invalid DPoP proof", "invalid_dpop_proof"},
	services.CodeUseDPoPNonce:     {http.StatusUnauthorized, "DPoP nonce required", "use_dpop_nonce"},
}

// defaultDetails are shown when an error carries no detail of its own.
var defaultDetails = map[string]string{
	services.CodeUnavailable: "The service cannot reach its database; try again shortly.",
	services.CodeInternal:    "Something went wrong on our side. Quote the request id if you report it.",
	services.CodeNotFound:    "No such resource.",
}

// StatusOf returns the HTTP status of an error code.
func StatusOf(code string) int {
	if s, ok := codes[code]; ok {
		return s.Status
	}
	return http.StatusInternalServerError
}

// OAuthErrorOf returns the RFC 6749 §5.2 error and HTTP status with which
// the OAuth endpoints answer an error code. §5.2 answers 400 for every
// client error; rate limits and server errors keep their status.
func OAuthErrorOf(code string) (name string, status int) {
	status = StatusOf(code)
	name = codes[code].OAuth
	switch {
	case name == "" && status >= 500:
		name = "server_error"
	case name == "":
		name = "invalid_request"
	}
	if status != http.StatusTooManyRequests && status < 500 {
		status = http.StatusBadRequest
	}
	return name, status
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
		detail = codes[code].Title + "."
	}
	return Problem{
		Type:   "https://authd.dev/problems/" + code,
		Title:  codes[code].Title,
		Status: StatusOf(code),
		Detail: detail,
		Code:   code,
	}
}

// WriteProblem writes err as application/problem+json and aborts; on the
// routes behind OAuthErrors, as an RFC 6749 §5.2 error instead.
func WriteProblem(c *gin.Context, err error) {
	p := ProblemFor(err)
	switch p.Code {
	case services.CodeUnavailable:
		c.Header("Retry-After", "2")
	case services.CodeOverloaded:
		c.Header("Retry-After", "1")
	}
	if c.GetBool(oauthErrorsKey) {
		writeOAuthError(c, p)
		return
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(p.Status, p)
}

const oauthErrorsKey = "authd.oauth_errors"

// OAuthErrors makes every error of the routes behind it, wherever it is
// written (a handler, a rate limit, panic recovery), an RFC 6749 §5.2 JSON
// error rather than a problem: what standard OAuth clients understand.
func OAuthErrors(c *gin.Context) {
	c.Set(oauthErrorsKey, true)
	c.Next()
}

// oauthErrorBody is the JSON body of an RFC 6749 §5.2 error.
type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// writeOAuthError writes the problem p as an RFC 6749 §5.2 error and aborts.
// Headers set before (Retry-After, X-RateLimit-*) stay.
func writeOAuthError(c *gin.Context, p Problem) {
	name, status := OAuthErrorOf(p.Code)
	body, _ := json.Marshal(oauthErrorBody{Error: name, ErrorDescription: errorDescription(p.Detail)})
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.AbortWithStatus(status)
	_, _ = c.Writer.Write(body)
}

// errorDescription keeps only the characters RFC 6749 §5.2 allows in
// error_description (printable ASCII without '"' and '\').
func errorDescription(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteByte('\'')
		case r == '\\' || r < 0x20 || r > 0x7e:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
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
