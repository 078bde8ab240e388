package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/platform/dpopreplay"
	"github.com/authd/authd/services"
)

func TestProofHolds(t *testing.T) {
	bound := services.SessionState{JKT: "key-a"}
	bad := errors.New("bad proof")
	tests := []struct {
		name string
		ses  services.SessionState
		b    services.Binding
		want bool
	}{
		{"unbound without a proof", services.SessionState{}, services.Binding{}, true},
		{"unbound with a valid proof", services.SessionState{}, services.Binding{Present: true, JKT: "key-b"}, true},
		{"unbound with a broken proof", services.SessionState{}, services.Binding{Present: true, Err: bad}, false},
		{"bound without a proof", bound, services.Binding{}, false},
		{"bound with its key", bound, services.Binding{Present: true, JKT: "key-a"}, true},
		{"bound with another key", bound, services.Binding{Present: true, JKT: "key-b"}, false},
		{"bound with a broken proof of its key", bound, services.Binding{Present: true, JKT: "key-a", Err: bad}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := services.ProofHolds(tt.ses, tt.b); got != tt.want {
				t.Fatalf("ProofHolds(%+v, %+v) = %v, want %v", tt.ses, tt.b, got, tt.want)
			}
		})
	}
}

func TestDPoP_Check(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	d := services.NewDPoP(services.DPoPConfig{MaxAge: time.Minute}, dpopreplay.NewMemory(clock), []byte("server key"), clock)
	k := apitest.NewDPoPKey(t, jose.ES256, clock)
	ctx := context.Background()
	url := "https://auth.example.com/v1/auth/refresh"
	tests := []struct {
		name string
		htu  string
		iat  time.Duration
		ok   bool
	}{
		{"exact", url, 0, true},
		{"host case and default port", "https://AUTH.example.com:443/v1/auth/refresh", 0, true},
		{"query ignored", url + "?x=1", 0, true},
		{"other scheme", "http://auth.example.com/v1/auth/refresh", 0, false},
		{"other path", "https://auth.example.com/v1/auth/refresh/", 0, false},
		{"within skew in the future", url, 4 * time.Second, true},
		{"past skew in the future", url, 6 * time.Second, false},
		{"at max age plus skew", url, -64 * time.Second, true},
		{"past max age plus skew", url, -66 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proof := k.Sign(t, apitest.ProofClaims{HTM: "POST", HTU: tt.htu, IAT: now.Add(tt.iat)})
			p, err := d.Check(ctx, services.ProofRequest{Proof: proof, Method: "POST", URL: url})
			if (err == nil) != tt.ok {
				t.Fatalf("Check(%s) = %v, want ok %v", tt.name, err, tt.ok)
			}
			if err == nil && p.JKT != k.JKT {
				t.Fatalf("Check().JKT = %s, want %s", p.JKT, k.JKT)
			}
			if err != nil && services.ErrorCode(err) != services.CodeInvalidDPoPProof {
				t.Fatalf("Check() code = %s, want invalid_dpop_proof", services.ErrorCode(err))
			}
		})
	}
	// One jti per key: the same jti from another key is no replay.
	other := apitest.NewDPoPKey(t, jose.EdDSA, clock)
	c := apitest.ProofClaims{JTI: "same", HTM: "POST", HTU: url}
	for _, key := range []*apitest.DPoPKey{k, other} {
		if _, err := d.Check(ctx, services.ProofRequest{Proof: key.Sign(t, c), Method: "POST", URL: url}); err != nil {
			t.Fatalf("first use of jti %q by %s: %v", c.JTI, key.Alg, err)
		}
	}
	if _, err := d.Check(ctx, services.ProofRequest{Proof: k.Sign(t, c), Method: "POST", URL: url}); services.ErrorCode(err) != services.CodeInvalidDPoPProof {
		t.Fatalf("replayed jti = %v, want invalid_dpop_proof", err)
	}
}

// TestDPoP_NonceRotates: a nonce is good in its own 5-minute step and the
// next one, then refused with use_dpop_nonce; every instance on the same
// server key derives the same nonces.
func TestDPoP_NonceRotates(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cfg := services.DPoPConfig{RequireNonce: true}
	a := services.NewDPoP(cfg, dpopreplay.NewMemory(clock), []byte("server key"), clock)
	b := services.NewDPoP(cfg, dpopreplay.NewMemory(clock), []byte("server key"), clock)
	other := services.NewDPoP(cfg, dpopreplay.NewMemory(clock), []byte("another key"), clock)
	k := apitest.NewDPoPKey(t, jose.ES256, clock)
	url := "https://auth.example.com/v1/auth/refresh"
	nonce := a.Nonce()
	if nonce != b.Nonce() || nonce == other.Nonce() {
		t.Fatal("instances on one server key disagree on the nonce, or another key gives the same")
	}
	check := func(d *services.DPoP, n string) error {
		_, err := d.Check(context.Background(), services.ProofRequest{Proof: k.Sign(t, apitest.ProofClaims{HTM: "POST", HTU: url, Nonce: n}), Method: "POST", URL: url})
		return err
	}
	if err := check(b, nonce); err != nil {
		t.Fatalf("a's nonce at b: %v", err)
	}
	if err := check(a, ""); services.ErrorCode(err) != services.CodeUseDPoPNonce {
		t.Fatalf("no nonce = %v, want use_dpop_nonce", err)
	}
	now = now.Add(6 * time.Minute) // the next step: still good, but a new one is handed out
	if err := check(a, nonce); err != nil || a.Nonce() == nonce {
		t.Fatalf("the previous step's nonce = %v (new nonce %q), want accepted and a new one", err, a.Nonce())
	}
	now = now.Add(5 * time.Minute)
	if err := check(a, nonce); services.ErrorCode(err) != services.CodeUseDPoPNonce {
		t.Fatalf("a nonce two steps old = %v, want use_dpop_nonce", err)
	}
}

// BenchmarkDPoP_Check is the whole cost of checking one ES256 proof: parse,
// signature, claims, thumbprint and the in-process replay cache.
func BenchmarkDPoP_Check(b *testing.B) {
	clock := services.SystemClock
	d := services.NewDPoP(services.DPoPConfig{}, dpopreplay.NewMemory(clock), []byte("server key"), clock)
	k := apitest.NewDPoPKey(b, jose.ES256, nil)
	url := "https://auth.example.com/v1/me"
	proofs := make([]string, 0, 4096)
	for range cap(proofs) {
		proofs = append(proofs, k.Proof(b, "GET", url, "token"))
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := d.Check(ctx, services.ProofRequest{Proof: proofs[i%len(proofs)], Method: "GET", URL: url, AccessToken: "token"}); err != nil && i < len(proofs) {
			b.Fatal(err)
		}
		i++
	}
}
