package handlers

import (
	"encoding/json"
	"errors"
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

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

// oauthErrorBody is the JSON body of an RFC 6749 §5.2 error.
type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func oauthInvalidRequest(description string) error {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: description}
}

// oauthErrorFor maps an authd error code (as a problem carries it) to the
// OAuth error a standard client understands. Every way a refresh token can
// fail is invalid_grant: the client's only remedy is to sign in again.
func oauthErrorFor(code string, status int, detail string) *oauthError {
	e := &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: detail}
	switch code {
	case services.CodeInvalidToken, services.CodeTokenExpired, services.CodeRefreshTokenReused, services.CodeSessionRevoked:
		e.code = "invalid_grant"
	case services.CodeRateLimited:
		e.status, e.code = http.StatusTooManyRequests, "rate_limited"
	case services.CodeUnavailable, services.CodeOverloaded:
		e.status, e.code = http.StatusServiceUnavailable, "temporarily_unavailable"
	case services.CodeInvalidRequest, services.CodePayloadTooLarge, services.CodeUnsupportedMedia:
	default:
		if status >= 500 {
			e.status, e.code = http.StatusInternalServerError, "server_error"
		}
	}
	return e
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

func writeOAuthError(w http.ResponseWriter, e *oauthError) []byte {
	body, _ := json.Marshal(oauthErrorBody{Error: e.code, ErrorDescription: errorDescription(e.description)})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.status)
	return body
}

// oauthWriter turns the problem+json answers written by the rest of authd
// (the error middleware, the rate limiter, panic recovery) into RFC 6749
// §5.2 errors, keeping their headers (Retry-After, X-RateLimit-*).
type oauthWriter struct {
	gin.ResponseWriter
	translated bool
}

func (w *oauthWriter) Write(b []byte) (int, error) {
	if w.translated || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
		return w.ResponseWriter.Write(b)
	}
	w.translated = true
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return w.ResponseWriter.Write(b)
	}
	body := writeOAuthError(w.ResponseWriter, oauthErrorFor(p.Code, p.Status, p.Detail))
	if _, err := w.ResponseWriter.Write(body); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (w *oauthWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// oauthResponses is the middleware of the /oauth group: answers are never
// cached (RFC 6749 §5.1), and errors are RFC 6749 §5.2 JSON, not problems.
// The writer stays wrapped after this returns on purpose: the error
// middleware, further out, renders the handler's error after the chain
// unwinds, and that answer must be translated too.
func oauthResponses(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.Writer = &oauthWriter{ResponseWriter: c.Writer}
	c.Next()
	var e *oauthError
	if len(c.Errors) > 0 && !c.Writer.Written() && errors.As(c.Errors.Last().Err, &e) {
		body := writeOAuthError(c.Writer, e)
		_, _ = c.Writer.Write(body)
	}
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
func oauthToken(ses *services.Sessions) gin.HandlerFunc {
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
			return &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type",
				description: "Only grant_type=refresh_token is supported; sign in through POST /v1/auth/login."}
		}
		raw := form.Get("refresh_token")
		if raw == "" {
			return oauthInvalidRequest("Send the refresh_token parameter.")
		}
		if form.Get("scope") != "" {
			// authd issues no scopes, so any requested scope exceeds the grant.
			return &oauthError{status: http.StatusBadRequest, code: "invalid_scope", description: "authd tokens carry no scopes."}
		}
		pair, err := ses.Refresh(c.Request.Context(), raw, meta(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, oauthTokenResponse{AccessToken: pair.Access.Token, TokenType: "Bearer",
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
func oauthRevoke(ses *services.Sessions, verifier accessVerifier) gin.HandlerFunc {
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
			case err == nil:
				if _, err := ses.Revoke(c.Request.Context(), p.SessionID, "logout", nil, m); err != nil {
					return err
				}
			case services.ErrorCode(err) == services.CodeUnavailable:
				return err
			}
		} else if err := ses.Logout(c.Request.Context(), raw, m); err != nil {
			return err
		}
		c.Status(http.StatusOK)
		return nil
	})
}
