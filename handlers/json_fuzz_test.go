package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

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
		{"application/json", `{"email":"a@example.com","password":"p","Password":"q"}`},
		{"application/json", `{"email":"a@example.com","password":"\ud83d\ude00","device_name":"\udc00"}`},
		{"application/json", "{\"email\":\"a@example.com\",\"password\":\"\xed\xa0\x80\"}"},
		{"application/json", `{"email":"a@example.com","password":"p","client_id":"\\ud800"}`},
		{"application/json", `{"role":"admin"}`},
		{"application/json", `{"role":null,"Role":"root"}`},
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
		req, err := decode[loginRequest](ctx(), false)
		check("loginRequest", err)
		if err == nil {
			// Accepted: the body was unambiguous, and no field was changed
			// by U+FFFD replacement.
			if !utf8.Valid(body) {
				t.Fatalf("decode[loginRequest](%q) accepted invalid UTF-8", body)
			}
			if k := repeatedTopKey(body); k != "" {
				t.Fatalf("decode[loginRequest](%q) accepted the key %q twice", body, k)
			}
			literal := bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
			fields := []string{req.Email, req.Password, req.ClientID, string(req.TokenDelivery)}
			if req.DeviceName != nil {
				fields = append(fields, *req.DeviceName)
			}
			for _, f := range fields {
				if strings.ContainsRune(f, utf8.RuneError) && !literal {
					t.Fatalf("decode[loginRequest](%q) made U+FFFD out of nothing: %q", body, f)
				}
			}
		}
		_, err = decode[registerRequest](ctx(), false)
		check("registerRequest", err)
		_, err = decode[refreshRequest](ctx(), true)
		check("refreshRequest", err)
		_, err = decode[reauthRequest](ctx(), false)
		check("reauthRequest", err)
		_, err = decode[updateAdminUserRequest](ctx(), false)
		check("updateAdminUserRequest", err)
	})
}

// repeatedTopKey returns a key of body's top-level object that appears twice
// (strings.EqualFold), or "". It is the fuzz oracle for unambiguous: a plain
// pairwise comparison, no folding tables.
func repeatedTopKey(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		k, _ := tok.(string)
		for _, seen := range keys {
			if strings.EqualFold(seen, k) {
				return k
			}
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// unambiguous at any depth, in arrays, with escapes, and for what it lets
// through.
func TestUnambiguous(t *testing.T) {
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"plain", `{"a":1,"b":"x","c":[1,2,{"a":1}],"d":{"a":{"a":1}}}`, true},
		{"same key in sibling objects", `[{"a":1},{"a":2},{"A":3}]`, true},
		{"same key at two depths", `{"a":{"a":{"a":1}}}`, true},
		{"duplicate at the top", `{"a":1,"a":2}`, false},
		{"duplicate in another case", `{"email":1,"eMail":2}`, false},
		{"duplicate in a nested object", `{"a":{"x":1,"y":{"k":1,"K":2}}}`, false},
		{"duplicate in an object in an array", `{"list":[1,{"id":1,"ID":2}]}`, false},
		{"duplicate after a nested object", `{"a":{"b":1},"c":2,"A":3}`, false},
		{"duplicate with the long s", "{\"s\":1,\"\u017f\":2}", false},
		{"escaped duplicate", `{"a":1,"\u0061":2}`, false},
		{"raw invalid UTF-8", "{\"a\":\"\xff\"}", false},
		{"raw surrogate half", "{\"a\":\"\xed\xa0\x80\"}", false},
		{"lone high surrogate", `{"a":"\ud800"}`, false},
		{"lone low surrogate in a key", `{"\udfff":1}`, false},
		{"high surrogate before a non-surrogate escape", `{"a":"\ud800\u0041"}`, false},
		{"high surrogate at the end", `{"a":"x\uD800"}`, false},
		{"a pair", `{"a":"\uD83D\uDE00"}`, true},
		{"a literal U+FFFD", `{"a":"\ufffd \uFFFD` + "\ufffd" + `"}`, true},
		{"an escaped backslash before u", `{"a":"\\ud800 \ufffd"}`, true},
		{"malformed is left to the decoder", `{"a":`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := unambiguous([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("unambiguous(%q) = %v, want ok %v", tt.body, err, tt.ok)
			}
			if err != nil && services.ErrorCode(err) != services.CodeInvalidRequest {
				t.Fatalf("unambiguous(%q) = %v, want invalid_request", tt.body, err)
			}
		})
	}
}

// FuzzUnambiguous checks the byte scanner against a plain
// json.Decoder.Token walk on every valid JSON body: both find the same
// duplicate keys (strings.EqualFold, at any depth) and lone surrogates.
func FuzzUnambiguous(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"A":2}`, `{"a":{"b":[{"c":1,"C":2}]}}`, `[{"a":1},{"a":1}]`, `{"a\"b":1,"A\"B":2}`,
		`{"\u0061":1,"a":2}`, `{"s":1,"\u017f":2}`, `{"k":"\ud800"}`, `{"k":"\\ud800"}`, `{"x":"\ud83d\ude00"}`,
		`{"":1,"":2}`, `"\udc00"`, `{"a":[1,2,{"b":"}"}],"b":"{"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			_ = unambiguous(body) // must not panic
			return
		}
		got, want := unambiguous(body) == nil, tokenWalkOK(body)
		if got != want {
			t.Fatalf("unambiguous(%q) ok = %v, the token walk says %v", body, got, want)
		}
	})
}

// tokenWalkOK is the reference: every object's keys compared pairwise with
// strings.EqualFold, and every string token that came out with U+FFFD
// checked for a lone surrogate in its text.
func tokenWalkOK(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   []string
		key    bool
	}
	var stack []*frame
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &frame{object: true, key: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
			}
			continue
		case string:
			raw := body[start:dec.InputOffset()]
			if strings.ContainsRune(v, utf8.RuneError) && !utf8.Valid(raw) || strings.ContainsRune(v, utf8.RuneError) && loneSurrogate(raw) {
				return false
			}
			if top != nil && top.object && top.key {
				for _, k := range top.keys {
					if strings.EqualFold(k, v) {
						return false
					}
				}
				top.keys = append(top.keys, v)
				top.key = false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}
