package testutil

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// PostJSON posts body as JSON to url and decodes the answer into out
// (when out is not nil), for tests that talk to a running authd by its
// URL. It returns the status code and fails t when the request cannot
// be sent or the answer asked for is not JSON.
func PostJSON(t testing.TB, url string, body, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("POST %s: %d, answer not JSON: %v", url, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}
