package apitest

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func fabricated(status int, contentType, body string, headers ...string) *Response {
	h := http.Header{}
	h.Set("X-Request-ID", "req-1")
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &Response{Status: status, Header: h, Body: []byte(body)}
}

const (
	user    = `{"id":"0190a5a4-8a7e-7c3e-9b1a-3f2e1d0c4b5a","email":"a@example.com","role":"user","created_at":"2026-11-22T21:04:05Z"}`
	tokens  = `{"access_token":"a.b.c","token_type":"Bearer","expires_in":900,"refresh_token":"x.y","refresh_expires_in":1209600,"session_id":"0190a5a4-8a7e-7c3e-9b1a-3f2e1d0c4b5b","user":` + user + `}`
	problem = `{"type":"https://authd.dev/problems/invalid_token","title":"Invalid token","status":401,"detail":"The refresh token is invalid.","code":"invalid_token"}`
)

// missingField matches either validator's report of a missing property.
func missingField(name string) string {
	return `missing property '` + name + `'|property "` + name + `" is missing`
}

func TestCheckOpenAPI(t *testing.T) {
	noStore := []string{"Cache-Control", "no-store", "Pragma", "no-cache"}
	tests := []struct {
		name   string
		method string
		path   string
		resp   *Response
		want   string // "" = valid, else a regular expression the error matches
	}{
		{"token response as documented", "POST", "/v1/auth/login",
			fabricated(200, "application/json; charset=utf-8", tokens, noStore...), ""},
		{"renamed field in the token response", "POST", "/v1/auth/login",
			fabricated(200, "application/json; charset=utf-8", strings.Replace(tokens, `"access_token"`, `"accessToken"`, 1), noStore...), missingField("access_token")},
		{"renamed field in the nested user", "POST", "/v1/auth/register",
			fabricated(201, "application/json", `{"user":`+strings.Replace(user, `"created_at"`, `"createdAt"`, 1)+`}`), missingField("created_at")},
		{"token response without no-store", "POST", "/v1/auth/refresh",
			fabricated(200, "application/json", tokens, "Pragma", "no-cache"), `header "Cache-Control" missing`},
		{"time not in UTC", "POST", "/v1/auth/register",
			fabricated(201, "application/json", `{"user":`+strings.Replace(user, "05Z", "05+02:00", 1)+`}`), "/user/created_at"},
		{"problem as documented", "GET", "/v1/me", fabricated(401, "application/problem+json", problem), ""},
		{"problem with an unknown code", "GET", "/v1/me",
			fabricated(401, "application/problem+json", strings.ReplaceAll(problem, "invalid_token", "bad_token")), `/code': value must be one of`},
		{"problem whose status disagrees", "GET", "/v1/me",
			fabricated(401, "application/problem+json", strings.Replace(problem, "401", "400", 1)), "/status'"},
		{"undocumented status", "GET", "/v1/me",
			fabricated(409, "application/problem+json", problem), "status is not supported"},
		{"wrong content type", "GET", "/v1/me", fabricated(401, "application/json", problem), "Content-Type"},
		{"undocumented path", "GET", "/v1/secret", fabricated(200, "application/json", `{}`), "no operation"},
		{"not-found problem on an undocumented path", "GET", "/v1/secret",
			fabricated(404, "application/problem+json", `{"type":"t","title":"Not found","status":404,"detail":"No such endpoint.","code":"not_found"}`), ""},
		{"body on a 204", "POST", "/v1/auth/logout", fabricated(204, "application/json", `{}`), "without a body"},
		{"oauth error as documented", "POST", "/oauth/token",
			fabricated(400, "application/json", `{"error":"invalid_grant","error_description":"The refresh token is invalid."}`, noStore...), ""},
		{"oauth error renamed", "POST", "/oauth/token",
			fabricated(400, "application/json", `{"error_code":"invalid_grant"}`, noStore...), `"error_code" is unsupported|'error_code' not allowed`},
		{"oauth token response with an extra field", "POST", "/oauth/token",
			fabricated(200, "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":1,"refresh_token":"r","scope":""}`, noStore...), "'scope' not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://127.0.0.1:1"+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckOpenAPI(req, tt.resp)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckOpenAPI() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("CheckOpenAPI() = nil, want an error about %q", tt.want)
			case tt.want != "" && !regexp.MustCompile(tt.want).MatchString(err.Error()):
				t.Fatalf("CheckOpenAPI() = %v, want an error about %q", err, tt.want)
			}
		})
	}
}
