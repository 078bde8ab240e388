// Package handlers holds authd's HTTP handlers: decode the request, make one
// service call, encode the answer. Failures are returned as errors and
// rendered as problem+json by the error middleware.
package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// maxBody is the largest request body accepted (the contract's 64 KiB).
const maxBody = 64 << 10

// validator is a request that checks its own fields.
type validator interface{ Valid() error }

var (
	errTooLarge  = services.Errorf(services.CodePayloadTooLarge, "The request body is larger than 64 KiB.")
	errMediaType = services.Errorf(services.CodeUnsupportedMedia, "Send the request body as application/json.")
)

// decode reads a strict JSON body into a T: at most 64 KiB, Content-Type
// application/json, no unknown fields, nothing after the object. An empty
// body decodes to the zero T when allowEmpty is set (cookie refresh and
// logout carry no body).
func decode[T validator](c *gin.Context, allowEmpty bool) (T, error) {
	var v T
	r := c.Request
	if r.ContentLength > maxBody {
		return v, errTooLarge
	}
	body := http.MaxBytesReader(c.Writer, r.Body, maxBody)
	data, err := io.ReadAll(body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return v, errTooLarge
	}
	if err != nil {
		return v, services.Errorf(services.CodeInvalidRequest, "The request body could not be read.")
	}
	if len(strings.TrimSpace(string(data))) == 0 && allowEmpty {
		return v, v.Valid()
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return v, errMediaType
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, services.Errorf(services.CodeInvalidRequest, "The request body is not valid JSON for this endpoint: %s.", jsonProblem(err))
	}
	if dec.More() {
		return v, services.Errorf(services.CodeInvalidRequest, "The request body has data after the JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, services.Errorf(services.CodeInvalidRequest, "The request body has data after the JSON object.")
	}
	return v, v.Valid()
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "malformed JSON"
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	default:
		return "malformed JSON"
	}
}

// handle adapts a handler that returns an error to gin.
func handle(fn func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			_ = c.Error(err)
			c.Abort()
		}
	}
}

// invalid returns an invalid_request error with a detail.
func invalid(format string, args ...any) error {
	return services.Errorf(services.CodeInvalidRequest, format, args...)
}
