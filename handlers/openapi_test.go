package handlers_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/authd/authd/handlers"
	"github.com/authd/authd/internal/apitest"
)

// The served description is the embedded one (and, like every response,
// it is itself checked against the description).
func TestOpenAPI_Served(t *testing.T) {
	s := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	r := s.Do(t, "GET", "/openapi.yaml", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/yaml" || !bytes.Equal(r.Body, handlers.OpenAPI) {
		t.Fatalf("GET /openapi.yaml = %d %q (%d bytes), want 200 application/yaml with the embedded document", r.Status, r.Header.Get("Content-Type"), len(r.Body))
	}
	if !bytes.HasPrefix(r.Body, []byte("openapi: 3.1.")) {
		t.Fatalf("the description does not start with openapi: 3.1.x")
	}
}

// Every route authd registers is in the description, so a new endpoint
// cannot ship undocumented.
func TestOpenAPI_EveryRouteDocumented(t *testing.T) {
	doc, err := apitest.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	// With the Shared Signals transmitter on, so its routes are checked too.
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", URLEnv: []string{"AUTHD_SSF_ISSUER"}})
	engine, ok := s.App.Handler().(*gin.Engine)
	if !ok {
		t.Fatalf("the app handler is a %T, not a *gin.Engine", s.App.Handler())
	}
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`)
	for _, rt := range engine.Routes() {
		path := param.ReplaceAllString(rt.Path, "{$1}")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s %s is served but not in handlers/openapi.yaml", rt.Method, path)
		}
	}
}

// The endpoints on this branch answer as described, on success and on the
// errors clients branch on. The checks are the validators apitest runs on
// every response; the assertions here only make sure each case happened.
func TestOpenAPI_Conformance(t *testing.T) {
	s := apitest.New(t, apitest.Options{})
	want := func(t *testing.T, r *apitest.Response, status int, code string) {
		t.Helper()
		if r.Status != status || (code != "" && r.Code() != code) {
			t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, status, code)
		}
	}
	email, tok := s.NewUser(t, "conformance")
	json := apitest.Header{Name: "Content-Type", Value: "application/json"}

	t.Run("register", func(t *testing.T) {
		want(t, s.Do(t, "POST", "/v1/auth/register", map[string]string{"email": email, "password": apitest.Password}), 409, "email_taken")
		want(t, s.Do(t, "POST", "/v1/auth/register", map[string]string{"email": "w@example.com", "password": "password1234"}), 400, "weak_password")
		want(t, s.Do(t, "POST", "/v1/auth/register", map[string]string{"email": "w@example.com", "password": strings.Repeat("€", 25)}), 400, "password_too_long")
		want(t, s.Do(t, "POST", "/v1/auth/register", `{"email":"a@example.com","password":"x","admin":true}`), 400, "invalid_request")
		want(t, s.Do(t, "POST", "/v1/auth/register", "email=a", apitest.Header{Name: "Content-Type", Value: "text/plain"}), 415, "unsupported_media_type")
		want(t, s.Do(t, "POST", "/v1/auth/register", `{"email":"`+strings.Repeat("a", 70<<10)+`"}`, json), 413, "payload_too_large")
	})
	t.Run("login", func(t *testing.T) {
		want(t, s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": "not the password at all"}), 401, "invalid_credentials")
		r := s.Do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": apitest.Password, "token_delivery": "cookie", "device_name": "Laptop"})
		want(t, r, 200, "")
		if m := r.Map(t); m["refresh_token"] != nil {
			t.Fatalf("cookie delivery put refresh_token in the body")
		}
	})
	t.Run("refresh", func(t *testing.T) {
		want(t, s.Refresh(t, "nope"), 401, "invalid_token")
		want(t, s.Do(t, "POST", "/v1/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken, "token_delivery": "sideways"}), 400, "invalid_request")
	})
	t.Run("me", func(t *testing.T) {
		want(t, s.Do(t, "GET", "/v1/me", nil, apitest.Bearer(tok.AccessToken)), 200, "")
		want(t, s.Do(t, "GET", "/v1/me", nil), 401, "invalid_token")
		want(t, s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": apitest.Password}, apitest.Bearer(tok.AccessToken)), 200, "")
		want(t, s.Do(t, "POST", "/v1/auth/reauthenticate", map[string]string{"password": "wrong wrong wrong"}, apitest.Bearer(tok.AccessToken)), 401, "invalid_credentials")
		want(t, s.Do(t, "POST", "/v1/me/password", map[string]string{"current_password": apitest.Password, "new_password": "short"}, apitest.Bearer(tok.AccessToken)), 400, "weak_password")
		want(t, s.Do(t, "POST", "/v1/me/password", map[string]string{"current_password": apitest.Password, "new_password": "a brand new passphrase 77"}, apitest.Bearer(tok.AccessToken)), 204, "")
	})
	t.Run("logout", func(t *testing.T) {
		want(t, s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": "unknown"}), 204, "")
		want(t, s.Do(t, "POST", "/v1/auth/logout", nil, apitest.Bearer(tok.AccessToken)), 204, "")
	})
	t.Run("operations", func(t *testing.T) {
		want(t, s.Do(t, "GET", "/healthz", nil), 200, "")
		want(t, s.Do(t, "GET", "/readyz", nil), 200, "")
		want(t, s.Do(t, "GET", "/.well-known/jwks.json", nil), 200, "")
	})
	t.Run("unknown routes", func(t *testing.T) {
		want(t, s.Do(t, "GET", "/v1/nothing-here", nil), 404, "not_found")
		want(t, s.Do(t, "GET", "/v1/auth/login", nil), 405, "method_not_allowed")
		want(t, s.Do(t, "GET", "/oauth/token", nil), 405, "method_not_allowed")
	})
}

// The description says which operations need an access token, and says it
// right: every route that answers a request without credentials with the
// missing-token 401 requires bearer (explicitly or through the document's
// default), and every other route declares `security: []`, so generated
// clients do not send tokens to public endpoints and a public route that
// loses its `security: []` fails here.
func TestOpenAPI_SecurityMatchesRoutes(t *testing.T) {
	doc, err := apitest.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) == 0 {
		t.Errorf("handlers/openapi.yaml has no servers")
	}
	s := apitest.New(t, apitest.Options{Dialect: "sqlite", URLEnv: []string{"AUTHD_SSF_ISSUER"}})
	s.StopFollowingRedirects()
	engine := s.App.Handler().(*gin.Engine)
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`)
	example := strings.NewReplacer(":id", "0190a5a4-8a7e-7c3e-9b1a-3f2e1d0c4b5a", "*path", "api.js")
	needsBearer := func(reqs *openapi3.SecurityRequirements) bool {
		if reqs == nil {
			return false
		}
		for _, req := range *reqs {
			_, bearer := req["bearer"]
			_, dpop := req["dpop"]
			if !bearer && !dpop {
				return false // an alternative without the access token
			}
		}
		return len(*reqs) > 0
	}
	for _, rt := range engine.Routes() {
		path := param.ReplaceAllString(rt.Path, "{$1}")
		op := doc.Paths.Value(path).GetOperation(rt.Method)
		if op == nil {
			continue // TestOpenAPI_EveryRouteDocumented reports it
		}
		var body any
		if rt.Method != http.MethodGet && rt.Method != http.MethodHead {
			body = map[string]any{}
		}
		r := s.Do(t, rt.Method, example.Replace(rt.Path), body)
		protected := r.Status == http.StatusUnauthorized && strings.HasPrefix(r.Map(t)["detail"].(string), "Send an access token")
		effective := op.Security
		if effective == nil {
			effective = &doc.Security
		}
		switch {
		case protected && !needsBearer(effective):
			t.Errorf("%s %s needs an access token, but the description lets it go without", rt.Method, path)
		case !protected && op.Security == nil:
			t.Errorf("%s %s is public (answered %d without credentials), but the description does not say `security: []`", rt.Method, path, r.Status)
		case !protected && needsBearer(op.Security):
			t.Errorf("%s %s is public (answered %d without credentials), but the description requires bearer", rt.Method, path, r.Status)
		}
	}
}
