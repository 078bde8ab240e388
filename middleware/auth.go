package middleware

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// TokenVerifier verifies access tokens.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (services.Principal, error)
}

var errMissingToken = &services.Error{Code: services.CodeInvalidToken, Detail: "Send an access token as 'Authorization: Bearer <token>'."}

// Authenticate requires a valid Bearer access token and puts its principal
// in the request context. Tokens are taken from the Authorization header
// only, never from the URL (RFC 6819 §4.6.7).
func Authenticate(v TokenVerifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, ok := BearerToken(c)
		if !ok {
			WriteProblem(c, errMissingToken)
			return
		}
		p, err := v.Verify(c.Request.Context(), raw)
		if err != nil {
			WriteProblem(c, err)
			return
		}
		c.Request = c.Request.WithContext(services.NewContext(c.Request.Context(), p))
		c.Set(principalKey, p)
		c.Next()
	}
}

const principalKey = "authd.principal"

// Principal returns the authenticated principal of the request, if any.
func Principal(c *gin.Context) (services.Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return services.Principal{}, false
	}
	p, ok := v.(services.Principal)
	return p, ok
}

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(c *gin.Context) (string, bool) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

var errForbidden = &services.Error{Code: services.CodeForbidden, Detail: "This needs the admin role."}

// RequireAdmin lets only principals with the admin role through.
func RequireAdmin(c *gin.Context) {
	p, ok := Principal(c)
	if !ok || !p.IsAdmin() {
		WriteProblem(c, errForbidden)
		return
	}
	c.Next()
}

var errBadSecret = &services.Error{Code: services.CodeInvalidToken, Detail: "Send the configured token as 'Authorization: Bearer <token>'."}

// RequireBearerSecret lets through only requests whose Bearer token is
// secret (AUTHD_METRICS_TOKEN on /metrics); others get 401 invalid_token.
// SHA-256 digests of both are compared in constant time, so the timing
// shows neither the secret's bytes nor its length.
func RequireBearerSecret(secret string) gin.HandlerFunc {
	want := sha256.Sum256([]byte(secret))
	return func(c *gin.Context) {
		raw, ok := BearerToken(c)
		got := sha256.Sum256([]byte(raw))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !ok {
			c.Header("WWW-Authenticate", "Bearer")
			WriteProblem(c, errBadSecret)
			return
		}
		c.Next()
	}
}
