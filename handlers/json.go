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
	if len(strings.TrimSpace(string(data))) == 0 && allowEmpty {
		return v, v.Valid()
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return v, errMediaType
	}
	if err := unambiguous(data); err != nil {
		return v, err
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

// unambiguous refuses a body that encoding/json would read in a way the
// sender may not have meant: invalid UTF-8 or an unpaired UTF-16 surrogate
// escape (both silently become U+FFFD, which would change a password), and
// a key repeated in one object, at any depth, also when the repetitions
// differ only in case (encoding/json matches keys case-insensitively and
// keeps the last one, so two readers of the body could disagree). It is one
// token pass over the first value; malformed JSON is left to the decoder
// that follows, which reports it in the same words.
func unambiguous(data []byte) error {
	if !utf8.Valid(data) {
		return errNotUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// keys[i] holds the folded keys seen in the i-th open object, nil for
	// an open array.
	var keys []map[string]struct{}
	expectKey := false
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // malformed: the decoder answers it
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				keys = append(keys, map[string]struct{}{})
				expectKey = true
			case '[':
				keys = append(keys, nil)
				expectKey = false
			default:
				keys = keys[:len(keys)-1]
				expectKey = len(keys) > 0 && keys[len(keys)-1] != nil
			}
			if len(keys) == 0 {
				return nil
			}
			continue
		case string:
			if strings.ContainsRune(t, utf8.RuneError) && loneSurrogate(data[start:dec.InputOffset()]) {
				return errNotUTF8
			}
			if expectKey {
				k := foldKey(t)
				if _, dup := keys[len(keys)-1][k]; dup {
					return invalid("The request body has the key %q more than once (keys are matched without regard to case).", t)
				}
				keys[len(keys)-1][k] = struct{}{}
				expectKey = false
				continue
			}
		}
		if len(keys) == 0 {
			return nil // a scalar at the top: the decoder refuses it
		}
		// A value ends; in an object the next token is a key.
		expectKey = keys[len(keys)-1] != nil
	}
}

var errNotUTF8 = services.Errorf(services.CodeInvalidRequest, "The request body is not valid UTF-8 (or escapes half of a UTF-16 surrogate pair); nothing was changed.")

// loneSurrogate reports whether raw, the text of one JSON string token
// (possibly with the separators before it), escapes a UTF-16 surrogate
// that is not part of a pair, which encoding/json turns into U+FFFD.
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
