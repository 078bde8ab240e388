// Package handlers holds authd's HTTP handlers: decode the request, make one
// service call, encode the answer. Failures are returned as errors and
// rendered as problem+json by the error middleware.
package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

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
// application/json, valid UTF-8, no key twice in one object (also not in
// another case), no unknown fields, nothing after the object. An empty
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
	if len(bytes.TrimSpace(data)) == 0 && allowEmpty {
		return v, v.Valid()
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return v, errMediaType
	}
	if err := unambiguous(data); err != nil {
		return v, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
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

// unambiguous refuses a body that encoding/json would read in a way the
// sender may not have meant: invalid UTF-8 or an unpaired UTF-16 surrogate
// escape (both silently become U+FFFD, which would change a password), and
// a key repeated in one object, at any depth, also when the repetitions
// differ only in case (encoding/json matches keys case-insensitively and
// keeps the last one, so two readers of the body could disagree).
//
// It is one pass over the bytes that tracks only strings, braces, brackets
// and commas (several times cheaper than json.Decoder.Token, which builds a
// value per token); a key is unescaped only when it has a backslash. It
// trusts the syntax to the strict decode that follows: on malformed JSON it
// may answer either way, and the decoder then reports the malformed body.
func unambiguous(data []byte) error {
	if !utf8.Valid(data) {
		return errNotUTF8
	}
	type frame struct {
		object    bool
		expectKey bool
		keys      map[string]struct{}
	}
	var stack []frame
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			end, escaped := stringEnd(data, i+1)
			if end < 0 {
				return nil // cut short: the decoder answers it
			}
			raw := data[i+1 : end]
			i = end
			if escaped && loneSurrogate(raw) {
				return errNotUTF8
			}
			if len(stack) == 0 {
				continue
			}
			top := &stack[len(stack)-1]
			if !top.object || !top.expectKey {
				continue
			}
			top.expectKey = false
			key := string(raw)
			if escaped {
				if err := json.Unmarshal(data[i-len(raw)-1:i+1], &key); err != nil {
					return nil // malformed: the decoder answers it
				}
			}
			k := foldKey(key)
			if _, dup := top.keys[k]; dup {
				return invalid("The request body has the key %q more than once (keys are matched without regard to case).", key)
			}
			if top.keys == nil {
				top.keys = make(map[string]struct{}, 8)
			}
			top.keys[k] = struct{}{}
		case '{':
			stack = append(stack, frame{object: true, expectKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			if stack = stack[:len(stack)-1]; len(stack) == 0 {
				return nil // the first value is complete
			}
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].expectKey = true
			}
		}
	}
	return nil
}

// stringEnd returns the index of the quote that ends the JSON string whose
// text starts at data[i], and whether the string has a backslash escape; -1
// if it does not end.
func stringEnd(data []byte, i int) (int, bool) {
	escaped := false
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			return i, escaped
		case '\\':
			escaped = true
			i++
		}
	}
	return -1, escaped
}

var errNotUTF8 = services.Errorf(services.CodeInvalidRequest, "The request body is not valid UTF-8 (or escapes half of a UTF-16 surrogate pair); nothing was changed.")

// loneSurrogate reports whether raw, the text of one JSON string, escapes a
// UTF-16 surrogate that is not part of a pair, which encoding/json turns
// into U+FFFD.
func loneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 < len(raw) && raw[i+1] != 'u' {
			i++ // \n, \", \\ and the like
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return false // malformed: the decoder answers it
		}
		i += 5
		switch {
		case 0xD800 <= r && r < 0xDC00:
			lo, ok := hex4(raw, i+3)
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' || !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		case 0xDC00 <= r && r <= 0xDFFF:
			return true
		}
	}
	return false
}

// hex4 parses the four hex digits at raw[i:i+4].
func hex4(raw []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// foldKey maps a key to one representative of the keys that
// strings.EqualFold treats as equal to it (which includes every pair that
// encoding/json matches case-insensitively, such as "K" and the Kelvin sign).
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s) // an ASCII letter's orbit starts with its capital
	}
	return strings.Map(func(r rune) rune {
		// The smallest rune of r's case orbit stands for all of them.
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
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

// responses converts each item of list with to. The result is never nil,
// so an empty list encodes as [] (the contract's lists are never null).
func responses[T, R any](list []T, to func(T) R) []R {
	out := make([]R, 0, len(list))
	for _, v := range list {
		out = append(out, to(v))
	}
	return out
}
