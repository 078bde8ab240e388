package handlers

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/authd/authd/services"
)

// FailureLimiter is a budget of failed password proofs for one subject: an
// email, a device token's id or a session id. Check, called before any
// bcrypt work, answers rate_limited once the budget is spent and counts
// nothing, so that a correct password never spends it; Fail counts one
// wrong password. user, when known, names the account in the
// rate_limited event.
type FailureLimiter interface {
	Check(c *gin.Context, subject string, user uuid.UUID) error
	Fail(c *gin.Context, subject string)
}

// Middleware is what the handlers need from package middleware, built in
// cmd/authd so that handlers never import it. Nil entries are skipped.
type Middleware struct {
	Authenticate  gin.HandlerFunc
	RequireAdmin  gin.HandlerFunc
	NoStore       gin.HandlerFunc
	LimitLogin    gin.HandlerFunc // per client address
	LimitRegister gin.HandlerFunc
	LimitRefresh  gin.HandlerFunc
	// Failures-only budgets: per account (email) and per known device on
	// login, per session on re-authentication and password change.
	LimitAccount FailureLimiter
	LimitDevice  FailureLimiter
	LimitReauth  FailureLimiter
	// MetricsAuth guards /metrics on the main address (the metrics token).
	MetricsAuth gin.HandlerFunc
	// OAuthErrors renders the errors of the /oauth routes as RFC 6749
	// §5.2 JSON instead of problems.
	OAuthErrors gin.HandlerFunc
}

// Services are the services behind the routes.
type Services struct {
	Accounts *services.Accounts
	Sessions *services.Sessions
	Tokens   *services.Tokens
	// DeviceTokens gives known devices their own login budget.
	DeviceTokens *services.DeviceTokens
	// Ping checks the database for /readyz.
	Ping func(context.Context) error
	// Draining turns /readyz to 503 during shutdown.
	Draining *atomic.Bool
	// Admin serves /v1/admin.
	Admin *services.Admin
	// Webhooks serves /v1/admin/webhooks (webhooks.go).
	Webhooks *services.Webhooks
	// DPoP checks DPoP proofs (RFC 9449); nil turns DPoP off.
	DPoP *services.DPoP
	// Metrics, when set, is served at /metrics (nil when the metrics have
	// an address of their own, AUTHD_METRICS_ADDR).
	Metrics http.Handler
	// SSF, when set, is the Shared Signals transmitter (AUTHD_SSF_ISSUER).
	SSF *services.SSF
}

// Options are the HTTP-level settings.
type Options struct {
	CookieSecure bool
	// PublicURL is the scheme and host clients address authd by
	// (AUTHD_PUBLIC_URL): DPoP proofs name it, and it is the issuer of the
	// authorization server metadata. Empty: taken from each request.
	PublicURL string
}

// Register adds every authd route to r.
func Register(r *gin.Engine, svc Services, mw Middleware, opts Options) {
	cookies := cookieConfig{secure: opts.CookieSecure}
	dpop := dpopSetup{check: svc.DPoP, publicURL: opts.PublicURL}

	r.GET("/healthz", healthz)
	r.GET("/readyz", readyz(svc.Ping, svc.Draining))
	r.GET("/.well-known/jwks.json", jwks(svc.Tokens.PublicKey(), svc.Tokens.KeyID()))
	r.GET("/.well-known/oauth-authorization-server", oauthMetadata(dpop))

	v1 := r.Group("/v1", chain(mw.NoStore)...)
	v1.POST("/auth/register", chain(mw.LimitRegister, register(svc.Accounts))...)
	v1.POST("/auth/login", chain(mw.LimitLogin, login(svc, loginLimits{account: mw.LimitAccount, device: mw.LimitDevice}, cookies, dpop))...)
	v1.POST("/auth/refresh", chain(mw.LimitRefresh, refresh(svc.Sessions, cookies, dpop))...)
	v1.POST("/auth/logout", logout(svc.Sessions, svc.Tokens, cookies, dpop))
	// A password proof of a signed-in session has a budget of its own (per
	// session) and none of the login's: an attacker spending the account's
	// or the address's login budget must not keep the owner's signed-in
	// device from getting a fresh token and signing the thief out.
	v1.POST("/auth/reauthenticate", chain(mw.Authenticate, reauthenticate(svc.Accounts, mw.LimitReauth))...)

	me := v1.Group("/me", chain(mw.Authenticate)...)
	me.GET("", getMe(svc.Accounts))
	me.POST("/password", changePassword(svc.Accounts, mw.LimitReauth))
	me.GET("/security-events", listOwnSecurityEvents(svc.Accounts))

	// OAuth 2.0 for standard client libraries: the same services and
	// refresh rate limit as /v1/auth/refresh, RFC 6749 §5.2 errors.
	oauth := r.Group("/oauth", chain(mw.OAuthErrors, oauthResponses)...)
	oauth.POST("/token", chain(mw.LimitRefresh, oauthToken(svc.Sessions, dpop))...)
	oauth.POST("/revoke", oauthRevoke(svc.Sessions, svc.Tokens, dpop))

	r.GET("/openapi.yaml", openAPI)
	if svc.Metrics != nil {
		r.GET("/metrics", chain(mw.MetricsAuth, gin.WrapH(svc.Metrics))...)
	}
	// Not chain(): a missing Authenticate or RequireAdmin must fail
	// closed, never leave the admin routes open.
	admin := v1.Group("/admin", mw.Authenticate, mw.RequireAdmin)
	admin.GET("/users", listAdminUsers(svc.Admin))
	admin.GET("/users/:id", getAdminUser(svc.Admin))
	admin.PATCH("/users/:id", updateAdminUser(svc.Admin))
	admin.GET("/users/:id/sessions", listAdminUserSessions(svc.Admin))
	admin.DELETE("/users/:id/sessions", revokeAdminUserSessions(svc.Admin))
	admin.DELETE("/sessions/:id", revokeAdminSession(svc.Admin))
	admin.GET("/security-events", listSecurityEvents(svc.Admin))
	registerSSF(r, admin, svc.SSF, mw)
	registerWebhooks(admin, svc.Webhooks)
	registerSessions(v1, svc, mw)

	// The browser pages (/account, /admin/security) and their assets.
	registerPages(r)
}

// registerSessions adds the devices page of the signed-in user (API.md
// "Sessions (devices)").
func registerSessions(v1 *gin.RouterGroup, svc Services, mw Middleware) {
	var chain []gin.HandlerFunc
	if mw.Authenticate != nil {
		chain = append(chain, mw.Authenticate)
	}
	s := v1.Group("/sessions", chain...)
	s.GET("", listSessions(svc.Sessions))
	s.DELETE("", revokeSessions(svc.Sessions))
	s.PATCH("/:id", renameSession(svc.Sessions))
	s.DELETE("/:id", revokeSession(svc.Sessions))
}
