package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/authd/authd/handlers"
)

// Every response a test receives through a Server is checked against the
// embedded OpenAPI description (handlers/openapi.yaml): the operation must
// be documented, the status documented for it, the Content-Type one it
// lists, the body valid for its schema (strict: required fields and no
// unknown ones on the main objects) and its required headers present. So a
// renamed field, a new status or an undocumented route fails whichever test
// met it, and the served document cannot drift from the server.
func init() {
	// Bodies kin-openapi has no decoder for: the pages and the CSV export
	// are checked for their media type only.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.PlainBodyDecoder)
	AddValidator(openAPIValidator)
}

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error

	exemptMu sync.RWMutex
	// Test-only routes (Options.Routes) live under /test/; authd serves
	// nothing there.
	exempt = []string{"/test/"}
)

// OpenAPI returns the loaded and validated description.
func OpenAPI() (*openapi3.T, error) {
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(handlers.OpenAPI)
		if err != nil {
			specErr = fmt.Errorf("load handlers/openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			specErr = fmt.Errorf("handlers/openapi.yaml is not a valid OpenAPI document: %w", err)
			return
		}
		// Route on paths alone: test instances listen on random loopback
		// ports, which no documented server names.
		routed := *doc
		routed.Servers = nil
		r, err := gorillamux.NewRouter(&routed)
		if err != nil {
			specErr = fmt.Errorf("route handlers/openapi.yaml: %w", err)
			return
		}
		specDoc, specRouter = doc, r
	})
	return specDoc, specErr
}

// ExcludeFromOpenAPI exempts responses under a path prefix from the OpenAPI
// check, for routes that only tests register. Nothing authd serves may be
// exempted.
func ExcludeFromOpenAPI(prefix string) {
	exemptMu.Lock()
	exempt = append(exempt, prefix)
	exemptMu.Unlock()
}

func exempted(path string) bool {
	exemptMu.RLock()
	defer exemptMu.RUnlock()
	for _, p := range exempt {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// validateOptions fail undocumented statuses, report every mismatch of a
// body, and keep values (tokens) out of the messages.
var validateOptions = func() *openapi3filter.Options {
	o := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	o.WithCustomSchemaErrorFunc(schemaMessage)
	return o
}()

// schemaMessage says where and why a value fails its schema, without the
// value itself.
func schemaMessage(err *openapi3.SchemaError) string {
	msg := fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
	if strings.Contains(err.Reason, "\n") {
		return msg // the JSON Schema 2020-12 validator lists the causes already
	}
	var causes []string
	var multi openapi3.MultiError
	var one *openapi3.SchemaError
	switch {
	case errors.As(err.Origin, &multi):
		for _, e := range multi {
			if errors.As(e, &one) {
				causes = append(causes, schemaMessage(one))
			}
		}
	case errors.As(err.Origin, &one):
		causes = append(causes, schemaMessage(one))
	}
	if len(causes) > 0 {
		msg += " (" + strings.Join(causes, "; ") + ")"
	}
	return msg
}

func openAPIValidator(t testing.TB, req *http.Request, _ []byte, resp *Response) {
	t.Helper()
	if err := CheckOpenAPI(req, resp); err != nil {
		t.Errorf("%s %s: the %d response does not match handlers/openapi.yaml: %v", req.Method, req.URL.Path, resp.Status, err)
	}
}

// CheckOpenAPI checks one response to req against the description.
//
// Not checked: 431 (written by net/http before authd sees the request) and
// CORS preflights (OPTIONS with Access-Control-Request-Method, which
// OpenAPI does not describe). A request to a path or method the description
// does not have must get authd's 404 not_found or 405 method_not_allowed
// problem; anything else there fails.
func CheckOpenAPI(req *http.Request, resp *Response) error {
	if resp.Status == http.StatusRequestHeaderFieldsTooLarge || exempted(req.URL.Path) ||
		(req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "") {
		return nil
	}
	doc, err := OpenAPI()
	if err != nil {
		return err
	}
	route, params, err := specRouter.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound) && resp.Status == http.StatusNotFound:
		return checkComponentResponse(doc, "NotFound", resp)
	case errors.Is(err, routers.ErrMethodNotAllowed) && resp.Status == http.StatusMethodNotAllowed:
		return checkComponentResponse(doc, "MethodNotAllowed", resp)
	case err != nil:
		return fmt.Errorf("no operation %s %s in the description (%v)", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.Status,
		Header:                 resp.Header,
		Options:                validateOptions,
	}
	in.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	// kin-openapi lets a body through where none is documented (204, the
	// revocation's 200): a response documented without content has none.
	if r := route.Operation.Responses.Status(resp.Status); r != nil && r.Value != nil && len(r.Value.Content) == 0 && len(resp.Body) > 0 {
		return fmt.Errorf("status %d is documented without a body, got %d bytes (%s)", resp.Status, len(resp.Body), resp.Header.Get("Content-Type"))
	}
	return nil
}

// checkComponentResponse checks resp against a response of
// components/responses (for requests no operation matches).
func checkComponentResponse(doc *openapi3.T, name string, resp *Response) error {
	ref := doc.Components.Responses[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("components/responses/%s missing from the description", name)
	}
	ct := resp.Header.Get("Content-Type")
	mt := ref.Value.Content.Get(ct)
	if mt == nil || mt.Schema == nil {
		return fmt.Errorf("Content-Type %q is not one of components/responses/%s", ct, name)
	}
	value, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(resp.Body), resp.Header, mt.Schema, nil)
	if err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	if err := mt.Schema.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse(),
		openapi3.MultiErrors(), openapi3.SetSchemaErrorMessageCustomizer(schemaMessage)); err != nil {
		return fmt.Errorf("body does not match components/responses/%s: %w", name, err)
	}
	return nil
}

// CheckedClient returns an HTTP client for libraries that send their own
// requests (golang.org/x/oauth2): every response it receives passes the
// same validators as those of Do and Send.
func (s *Server) CheckedClient(t testing.TB) *http.Client {
	return &http.Client{Transport: checkingTransport{t: t, base: s.Client.Transport}}
}

type checkingTransport struct {
	t    testing.TB
	base http.RoundTripper
}

func (ct checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var raw []byte
	if req.Body != nil {
		var err error
		if raw, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(raw))
	}
	base := ct.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(data))
	resp := &Response{Status: res.StatusCode, Header: res.Header, Body: data}
	validatorsMu.RLock()
	vs := append([]Validator(nil), validators...)
	validatorsMu.RUnlock()
	for _, v := range vs {
		v(ct.t, req, raw, resp)
	}
	return res, nil
}
