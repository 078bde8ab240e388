package middleware

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
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
// only, never from the URL (RFC 6819 §4.6.7). It is AuthenticateDPoP with
// DPoP off.
func Authenticate(v TokenVerifier) gin.HandlerFunc { return AuthenticateDPoP(v, DPoPOptions{}) }

// DPoPOptions turn on DPoP-bound access tokens (RFC 9449 §7).
type DPoPOptions struct {
	Check *services.DPoP
	// URL is the request's URL as the client addressed it (handlers.RequestURL).
	URL func(*gin.Context) string
}

var (
	errBoundAsBearer = &services.Error{Code: services.CodeInvalidToken,
		Detail: "This access token is bound to a key: send it as 'Authorization: DPoP <token>' with a DPoP proof."}
	errUnboundAsDPoP = &services.Error{Code: services.CodeInvalidToken,
		Detail: "This access token is not bound to a key: send it as 'Authorization: Bearer <token>'."}
)

// AuthenticateDPoP is Authenticate that also accepts DPoP-bound tokens:
// "Authorization: DPoP <token>" with a DPoP proof of the token's key
// (cnf.jkt) naming the token in ath. A bound token is never accepted as
// Bearer (no downgrade, RFC 9449 §7.2), nor an unbound one as DPoP. Every
// refusal carries a WWW-Authenticate challenge naming the scheme to use.
func AuthenticateDPoP(v TokenVerifier, d DPoPOptions) gin.HandlerFunc {
	return func(c *gin.Context) {
		scheme, raw, ok := authorization(c)
		dpop := ok && strings.EqualFold(scheme, "DPoP") && d.Check != nil
		if !ok || (!dpop && !strings.EqualFold(scheme, "Bearer")) {
			refuse(c, d, errMissingToken)
			return
		}
		if d.Check != nil && d.Check.Config().RequireNonce {
			c.Header("DPoP-Nonce", d.Check.Nonce())
		}
		p, err := v.Verify(c.Request.Context(), raw)
		switch {
		case err != nil:
			refuse(c, d, err)
			return
		case !dpop && p.JKT != "":
			refuse(c, d, errBoundAsBearer)
			return
		case dpop && p.JKT == "":
			refuse(c, d, errUnboundAsDPoP)
			return
		case dpop:
			if err := checkResourceProof(c, d, raw, p.JKT); err != nil {
				refuse(c, d, err)
				return
			}
		}
		// The request context is the one place the principal is kept
		// (Principal reads it there), not also gin's per-request map.
		c.Request = c.Request.WithContext(services.NewContext(c.Request.Context(), p))
		c.Next()
	}
}

// Principal returns the authenticated principal of the request, if any.
func Principal(c *gin.Context) (services.Principal, bool) {
	return services.PrincipalFrom(c.Request.Context())
}

// authorization splits the Authorization header into scheme and token.
func authorization(c *gin.Context) (scheme, token string, ok bool) {
	scheme, token, ok = strings.Cut(c.GetHeader("Authorization"), " ")
	token = strings.TrimSpace(token)
	return scheme, token, ok && token != ""
}

var errProofOfOtherKey = &services.Error{Code: services.CodeInvalidDPoPProof,
	Detail: "The DPoP proof is signed by another key than the one the access token is bound to."}

// checkResourceProof checks the proof of a request with a bound token.
func checkResourceProof(c *gin.Context, d DPoPOptions, token, jkt string) error {
	vs := c.Request.Header.Values("DPoP")
	if len(vs) != 1 {
		return services.Errorf(services.CodeInvalidDPoPProof, "Send exactly one DPoP proof with a DPoP-bound access token.")
	}
	proof, err := d.Check.Check(c.Request.Context(), services.ProofRequest{
		Proof: strings.TrimSpace(vs[0]), Method: c.Request.Method, URL: d.URL(c), AccessToken: token,
	})
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(proof.JKT), []byte(jkt)) != 1 {
		return errProofOfOtherKey
	}
	return nil
}

// refuse answers a failed authentication with a problem and, when DPoP is
// on, a DPoP challenge (RFC 9449 §7.1) naming the error and the algorithms.
func refuse(c *gin.Context, d DPoPOptions, err error) {
	if d.Check != nil {
		code := services.ErrorCode(err)
		if code == services.CodeTokenExpired || code == services.CodeSessionRevoked {
			code = services.CodeInvalidToken // the codes RFC 6750 §3.1 and RFC 9449 know
		}
		if StatusOf(code) == http.StatusUnauthorized {
			c.Header("WWW-Authenticate", fmt.Sprintf(`DPoP error="%s", algs="%s"`, code, strings.Join(services.DPoPAlgNames(), " ")))
		}
	}
	WriteProblem(c, err)
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
