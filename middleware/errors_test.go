package middleware

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// Every code the OAuth endpoints can meet answers with the RFC 6749 §5.2
// name and status of the one error table.
func TestOAuthErrorOf(t *testing.T) {
	tests := []struct {
		code       string
		wantName   string
		wantStatus int
	}{
		{services.CodeInvalidRequest, "invalid_request", 400},
		{services.CodePayloadTooLarge, "invalid_request", 400},
		{services.CodeUnsupportedMedia, "invalid_request", 400},
		{services.CodeUnsupportedGrantType, "unsupported_grant_type", 400},
		{services.CodeInvalidScope, "invalid_scope", 400},
		{services.CodeInvalidToken, "invalid_grant", 400},
		{services.CodeTokenExpired, "invalid_grant", 400},
		{services.CodeRefreshTokenReused, "invalid_grant", 400},
		{services.CodeSessionRevoked, "invalid_grant", 400},
		{services.CodeRateLimited, "rate_limited", 429},
		{services.CodeUnavailable, "temporarily_unavailable", 503},
		{services.CodeOverloaded, "temporarily_unavailable", 503},
		{services.CodeInternal, "server_error", 500},
		{services.CodeNotFound, "invalid_request", 400},
		{services.CodeWeakPassword, "invalid_request", 400},
		{"no_such_code", "server_error", 500},
	}
	for _, tt := range tests {
		if name, status := OAuthErrorOf(tt.code); name != tt.wantName || status != tt.wantStatus {
			t.Errorf("OAuthErrorOf(%q) = %q, %d; want %q, %d", tt.code, name, status, tt.wantName, tt.wantStatus)
		}
	}
}

// Every code has a status and a title, so that no problem goes out blank.
func TestCodes_Complete(t *testing.T) {
	for code, s := range codes {
		if s.Status < 400 || s.Title == "" {
			t.Errorf("codes[%q] = %+v, want a 4xx or 5xx status and a title", code, s)
		}
	}
}

// Behind OAuthErrors, WriteProblem answers RFC 6749 §5.2 JSON rendered from
// the table, byte for byte what the OAuth endpoints answered before the
// table, with the problem's headers kept; elsewhere it answers a problem.
func TestWriteProblem_OAuthErrors(t *testing.T) {
	tests := []struct {
		name, wantCT, wantBody, wantRetry string
		oauth                             bool
		err                               error
		wantStatus                        int
	}{
		{"oauth unavailable", "application/json; charset=utf-8",
			`{"error":"temporarily_unavailable","error_description":"The database is down."}`, "2",
			true, services.Errorf(services.CodeUnavailable, "The database is down."), 503},
		{"oauth detail cut to RFC 6749 characters", "application/json; charset=utf-8",
			`{"error":"invalid_grant","error_description":"a 'quoted'   \u003ctag\u003e"}`, "",
			true, services.Errorf(services.CodeSessionRevoked, "a \"quoted\" é \\ <tag>"), 400},
		{"oauth internal hides the cause", "application/json; charset=utf-8",
			`{"error":"server_error","error_description":"Something went wrong on our side. Quote the request id if you report it."}`, "",
			true, errors.New("secret cause"), 500},
		{"problem elsewhere", "application/problem+json",
			`{"type":"https://authd.dev/problems/session_revoked","title":"Session revoked","status":401,"detail":"gone","code":"session_revoked"}`, "",
			false, services.Errorf(services.CodeSessionRevoked, "gone"), 401},
	}
	gin.SetMode(gin.ReleaseMode)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, r := gin.CreateTestContext(w)
			handlers := []gin.HandlerFunc{func(c *gin.Context) { WriteProblem(c, tt.err) }}
			if tt.oauth {
				handlers = append([]gin.HandlerFunc{OAuthErrors}, handlers...)
			}
			r.POST("/x", handlers...)
			c.Request = httptest.NewRequest(http.MethodPost, "/x", nil)
			r.HandleContext(c)
			if w.Code != tt.wantStatus || w.Header().Get("Content-Type") != tt.wantCT || w.Body.String() != tt.wantBody {
				t.Fatalf("WriteProblem() = %d %q %s, want %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body, tt.wantStatus, tt.wantCT, tt.wantBody)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
		})
	}
}
