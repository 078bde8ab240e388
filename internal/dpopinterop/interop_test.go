package dpopinterop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/apitest"
)

// requireNode returns the node binary, skipping the test without node or
// without the installed client (npm ci here), unless
// AUTHD_TEST_REQUIRE_BROWSER=1 (CI), where either fails it.
func requireNode(t *testing.T) string {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("AUTHD_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatalf("AUTHD_TEST_REQUIRE_BROWSER=1: "+format, args...)
		}
		t.Skipf(format, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("no node: %v", err)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "dpop", "package.json")); err != nil {
		skip("the dpop client is not installed (run npm ci in internal/dpopinterop): %v", err)
	}
	return node
}

type step struct {
	Status    int    `json:"status"`
	TokenType string `json:"token_type"`
	Email     string `json:"email"`
	Code      string `json:"code"`
}

// TestInterop_PanvaDPoP: proofs made by an independent implementation bind
// a session at login and are accepted for /v1/me and a refresh; the same
// session refuses a refresh without a proof.
func TestInterop_PanvaDPoP(t *testing.T) {
	node := requireNode(t)
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		for _, alg := range []string{"ES256", "PS256"} {
			t.Run(alg, func(t *testing.T) {
				email := "interop-" + strings.ToLower(alg) + "@example.com"
				s.Register(t, email, apitest.Password)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, node, "client.mjs", s.URL, email, apitest.Password, alg)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				stdout, err := cmd.Output()
				if err != nil {
					t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
				}
				var got struct {
					JKT                 string `json:"jkt"`
					Login               step   `json:"login"`
					Me                  step   `json:"me"`
					Refresh             step   `json:"refresh"`
					MeAfterRefresh      step   `json:"me_after_refresh"`
					RefreshWithoutProof step   `json:"refresh_without_proof"`
				}
				if err := json.Unmarshal(stdout, &got); err != nil {
					t.Fatalf("client output %q: %v", stdout, err)
				}
				want := []struct {
					name      string
					got, want step
				}{
					{"login", got.Login, step{Status: 200, TokenType: "DPoP"}},
					{"GET /v1/me", got.Me, step{Status: 200, Email: email}},
					{"refresh", got.Refresh, step{Status: 200, TokenType: "DPoP"}},
					{"GET /v1/me after the refresh", got.MeAfterRefresh, step{Status: 200, Email: email}},
					{"refresh without a proof", got.RefreshWithoutProof, step{Status: 401, Code: "invalid_dpop_proof"}},
				}
				for _, w := range want {
					if w.got != w.want {
						t.Errorf("%s = %+v, want %+v", w.name, w.got, w.want)
					}
				}
				var jkt string
				if err := s.App.DB().DB.Raw(`SELECT s.dpop_jkt FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = ?`, email).
					Scan(&jkt).Error; err != nil {
					t.Fatal(err)
				}
				if jkt != got.JKT {
					t.Errorf("the session is bound to %q, want the client's key %q (RFC 7638 thumbprint)", jkt, got.JKT)
				}
			})
		}
	})
}
