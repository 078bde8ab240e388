package handlers

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// The OAuth 2.0 endpoints serve standard client libraries: the refresh_token
// grant of RFC 6749 §6 at /oauth/token and RFC 7009 revocation at
// /oauth/revoke. Both sit on the same services as /v1/auth/refresh and
// /v1/auth/logout, so rotation, reuse detection, the grace window, rate
// limits and security events are the same whichever door a client uses.
//
// Clients are public (no client authentication, as for /v1/auth/login):
// client_id is accepted and not checked, and no 401 invalid_client exists.
// The password grant is not offered (RFC 9700 §2.4).

func oauthInvalidRequest(description string) error {
	return &services.Error{Code: services.CodeInvalidRequest, Detail: description}
}

// oauthResponses is the middleware of the /oauth group: answers are never
// cached (RFC 6749 §5.1). Its errors are RFC 6749 §5.2 JSON, rendered from
// the error table by the OAuthErrors middleware in front of it.
func oauthResponses(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.Next()
}

// readForm reads an application/x-www-form-urlencoded body of at most
// 64 KiB. Parameters come from the body only, never from the URL (RFC 6749
// §3.2, RFC 6819 §4.6.7); an empty value counts as absent and a repeated
// parameter is an error (RFC 6749 §3.1).
func readForm(c *gin.Context) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauthInvalidRequest("Send the parameters form-encoded (application/x-www-form-urlencoded).")
	}
	if c.Request.ContentLength > maxBody {
		return nil, oauthInvalidRequest("The request body is larger than 64 KiB.")
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		return nil, oauthInvalidRequest("The request body could not be read or is larger than 64 KiB.")
	}
	form, err := url.ParseQuery(string(data))
	if err != nil {
		return nil, oauthInvalidRequest("The request body is not valid form encoding.")
	}
	for name, values := range form {
		if len(values) > 1 {
			return nil, oauthInvalidRequest("The parameter " + name + " is repeated.")
		}
	}
	return form, nil
}

// oauthTokenResponse is the RFC 6749 §5.1 answer.
type oauthTokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// oauthToken is the token endpoint: grant_type=refresh_token only. Any
// other grant, the password grant included, is unsupported_grant_type
// before anything else is looked at, so it never touches an account.
func oauthToken(ses *services.Sessions, dpop dpopSetup) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		form, err := readForm(c)
		if err != nil {
			return err
		}
		switch grant := form.Get("grant_type"); grant {
		case "refresh_token":
		case "":
			return oauthInvalidRequest("Send grant_type=refresh_token.")
		default:
			return &services.Error{Code: services.CodeUnsupportedGrantType,
				Detail: "Only grant_type=refresh_token is supported; sign in through POST /v1/auth/login."}
		}
		raw := form.Get("refresh_token")
		if raw == "" {
			return oauthInvalidRequest("Send the refresh_token parameter.")
		}
		if form.Get("scope") != "" {
			// authd issues no scopes, so any requested scope exceeds the grant.
			return &services.Error{Code: services.CodeInvalidScope, Detail: "authd tokens carry no scopes."}
		}
		binding, err := dpop.refreshBinding(c)
		if err != nil {
			return err
		}
		pair, err := ses.RefreshBound(c.Request.Context(), raw, meta(c), binding)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, oauthTokenResponse{AccessToken: pair.Access.Token, TokenType: tokenType(pair.Access.Principal),
			ExpiresIn: pair.Access.ExpiresIn, RefreshToken: pair.RefreshToken})
		return nil
	})
}

// oauthRevoke is RFC 7009 revocation. A refresh token revokes its session
// (reason logout), as /v1/auth/logout does. An access token (a JWT: three
// dot-separated parts) revokes its session too, when it is still valid:
// RFC 7009 §2.1 lets the server drop the whole grant, and it is what the
// Bearer-only logout does. The token_type_hint is accepted and not needed,
// since the two kinds differ in shape. Unknown, expired and malformed tokens
// answer 200 like real ones (§2.2), so the answer tells nothing.
func oauthRevoke(ses *services.Sessions, verifier accessVerifier, dpop dpopSetup) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		form, err := readForm(c)
		if err != nil {
			return err
		}
		raw := form.Get("token")
		if raw == "" {
			return oauthInvalidRequest("Send the token parameter.")
		}
		m := meta(c)
		if strings.Count(raw, ".") == 2 {
			p, err := verifier.Verify(c.Request.Context(), raw)
			switch {
			case err == nil && p.JKT != "":
				// A DPoP-bound access token proves nothing without its key
				// (revocation takes no proof of it): ignored, 200 as ever.
			case err == nil:
				if _, err := ses.Revoke(c.Request.Context(), p.SessionID, "logout", nil, m); err != nil {
					return err
				}
			case services.ErrorCode(err) == services.CodeUnavailable:
				return err
			}
		} else {
			binding, err := dpop.refreshBinding(c)
			if err != nil {
				return err
			}
			if err := ses.LogoutBound(c.Request.Context(), raw, m, binding); err != nil {
				return err
			}
		}
		c.Status(http.StatusOK)
		return nil
	})
}
