package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// FuzzDecode: whatever body and Content-Type arrive, decode answers a
// client error (invalid_request, payload_too_large, unsupported_media_type)
// or a request that passed its own validation; never a panic, never an
// internal error.
func FuzzDecode(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"email":"a@example.com","password":"correct horse battery"}`},
		{"application/json", `{"email":"a@example.com","password":"p","device_name":"x","client_id":"c","token_delivery":"cookie"}`},
		{"application/json", `{"email":"a@example.com","password":"p","token_delivery":"carrier pigeon"}`},
		{"application/json", `{"email":"a@example.com","password":"p","device_token":"AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`},
		{"application/json", `{"email":"a@example.com","password":"p","device_token":12}`},
		{"application/json", `{"email":"a@example.com","password":"p","admin":true}`},
		{"application/json", `{"email":"a@example.com","password":12}`},
		{"application/json", `{"email":"a@example.com","password":"p"} {}`},
		{"application/json", `{"email":"\u0000","password":"\ud800"}`},
		{"application/json; charset=utf-8", `{"email":"a@b","password":"p","client_id":"\u0007"}`},
		{"application/problem+json", `[]`},
		{"text/plain", `{"email":"a@example.com","password":"p"}`},
		{"", ``},
		{"application/json", `{"refresh_token":"` + strings.Repeat("A", 70<<10) + `"}`},
		{"application/json", strings.Repeat("[", 10000)},
		{"multipart/form-data; boundary=\"", `--`},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		check := func(name string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			switch code := services.ErrorCode(err); code {
			case services.CodeInvalidRequest, services.CodePayloadTooLarge, services.CodeUnsupportedMedia:
				if len(body) > maxBody && code != services.CodePayloadTooLarge {
					t.Fatalf("decode[%s](%d bytes) = %v, want payload_too_large", name, len(body), err)
				}
			default:
				t.Fatalf("decode[%s](%q, %q) = %v (%s), want a client error", name, contentType, body, err, code)
			}
		}
		ctx := func() *gin.Context {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
			c.Request.Header.Set("Content-Type", contentType)
			return c
		}
		_, err := decode[loginRequest](ctx(), false)
		check("loginRequest", err)
		_, err = decode[registerRequest](ctx(), false)
		check("registerRequest", err)
		_, err = decode[refreshRequest](ctx(), true)
		check("refreshRequest", err)
		_, err = decode[reauthRequest](ctx(), false)
		check("reauthRequest", err)
	})
}
