package services

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoP (RFC 9449): a client proves, on every use of a token, that it holds
// the private key its session is bound to. A proof is a JWT signed by that
// key with the public key in its header; the session keeps the key's
// RFC 7638 thumbprint (jkt), and bound access tokens carry it as cnf.jkt.
//
// go-jose/v4 parses the JWS, the embedded JWK and computes thumbprints: it
// refuses algorithms outside the list given to ParseSignedCompact (a proof is a compact JWS only) (so "none" and
// HMAC never reach a verifier) and an embedded JWK that is not a public key.

// DPoPAlgs are the proof algorithms accepted (dpop_signing_alg_values_supported).
var DPoPAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA, jose.PS256, jose.RS256}

// DPoPAlgNames returns DPoPAlgs as strings.
func DPoPAlgNames() []string {
	out := make([]string, len(DPoPAlgs))
	for i, a := range DPoPAlgs {
		out[i] = string(a)
	}
	return out
}

// Defaults of DPoPConfig.
const (
	DefaultDPoPMaxAge = 60 * time.Second
	// DPoPClockSkew is how far in the future a proof's iat may be, and how
	// much older than MaxAge: a phone's clock is rarely exact.
	DPoPClockSkew = 5 * time.Second
	// dpopNonceStep is how long one server nonce is handed out; a nonce is
	// accepted during its own step and the next one.
	dpopNonceStep  = 5 * time.Minute
	maxProofLength = 8192
	maxJTILength   = 256
)

// DPoPConfig is the DPoP slice of the configuration.
type DPoPConfig struct {
	MaxAge time.Duration // a proof's iat may be at most this old (plus DPoPClockSkew)
	// RequireNonce makes every proof carry a server nonce (RFC 9449 §8).
	RequireNonce bool
	// RequiredClients are the client_ids whose logins must bind a key.
	RequiredClients []string
}

// ReplayCache remembers proof ids (jti) for the proof window, so that a
// proof is accepted once. One shared by every instance (Redis) refuses a
// proof replayed against another instance too.
type ReplayCache interface {
	// Seen records key until the time given and reports whether it was
	// recorded already (a replay).
	Seen(ctx context.Context, key string, until time.Time) (bool, error)
}

// DPoP checks proofs.
type DPoP struct {
	cfg      DPoPConfig
	replay   ReplayCache
	nonceKey []byte
	now      Clock
}

// NewDPoP returns a proof checker. key is the server key shared by every
// instance (LoadServerKey): nonces are derived from it, so a nonce handed
// out by one instance is good on all of them, with no state.
func NewDPoP(cfg DPoPConfig, replay ReplayCache, key []byte, now Clock) *DPoP {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultDPoPMaxAge
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("authd dpop nonce v1"))
	return &DPoP{cfg: cfg, replay: replay, nonceKey: m.Sum(nil), now: now}
}

// Config returns the DPoP configuration.
func (d *DPoP) Config() DPoPConfig { return d.cfg }

// Required reports whether a login of clientID must bind a key.
func (d *DPoP) Required(clientID string) bool {
	if clientID == "" {
		clientID = DefaultClientID
	}
	return slices.Contains(d.cfg.RequiredClients, clientID)
}

// ProofRequest is a proof and the request it must describe.
type ProofRequest struct {
	Proof  string // the DPoP header
	Method string
	URL    string // the request's URL as the client addressed it (scheme, host, path)
	// AccessToken, for a resource request, is the token the proof must
	// name by its hash (ath).
	AccessToken string
}

// Proof is a checked proof.
type Proof struct {
	JKT string // the RFC 7638 thumbprint of the proof's key
}

// Binding is what a refresh knows of its request's proof.
type Binding struct {
	Present bool   // a DPoP header was sent
	JKT     string // the key of a valid proof
	Err     error  // why the proof is not valid
}

var (
	errProofMissing = &Error{Code: CodeInvalidDPoPProof, Detail: "This session is bound to a key: send a DPoP proof signed by it."}
	errProofWrongKy = &Error{Code: CodeInvalidDPoPProof, Detail: "The DPoP proof is signed by another key than the one this session is bound to."}
	errNonceNeeded  = &Error{Code: CodeUseDPoPNonce, Detail: "Send the server's nonce (the DPoP-Nonce header) in the DPoP proof."}
)

func proofError(format string, args ...any) error {
	return &Error{Code: CodeInvalidDPoPProof, Detail: "The DPoP proof is invalid: " + fmt.Sprintf(format, args...)}
}

type proofClaims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.RawMessage `json:"iat"`
	ATH   string          `json:"ath"`
	Nonce string          `json:"nonce"`
}

// Check verifies a proof (RFC 9449 §4.3) and remembers its jti. Returns
// CodeInvalidDPoPProof for anything wrong with it (a replay included), and
// CodeUseDPoPNonce when a nonce is required and it has none or a stale one.
func (d *DPoP) Check(ctx context.Context, req ProofRequest) (Proof, error) {
	if req.Proof == "" || len(req.Proof) > maxProofLength {
		return Proof{}, proofError("missing or too long.")
	}
	jws, err := jose.ParseSignedCompact(req.Proof, DPoPAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return Proof{}, proofError("not a JWS signed with one of %s and a public jwk.", strings.Join(DPoPAlgNames(), ", "))
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return Proof{}, proofError("typ must be dpop+jwt.")
	}
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return Proof{}, proofError("the header must carry the public key as jwk.")
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return Proof{}, proofError("the signature does not verify with its jwk.")
	}
	var c proofClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Proof{}, proofError("the claims are not a JSON object.")
	}
	if c.JTI == "" || len(c.JTI) > maxJTILength {
		return Proof{}, proofError("jti is missing.")
	}
	if c.HTM != req.Method {
		return Proof{}, proofError("htm is not this request's method.")
	}
	if !sameHTU(c.HTU, req.URL) {
		return Proof{}, proofError("htu is not this request's URL.")
	}
	now := d.now()
	var iatSeconds float64
	if err := json.Unmarshal(c.IAT, &iatSeconds); err != nil {
		return Proof{}, proofError("iat is missing.")
	}
	iat := time.Unix(0, int64(iatSeconds*float64(time.Second)))
	if iat.After(now.Add(DPoPClockSkew)) {
		return Proof{}, proofError("iat is in the future.")
	}
	if now.Sub(iat) > d.cfg.MaxAge+DPoPClockSkew {
		return Proof{}, proofError("iat is older than %s.", d.cfg.MaxAge)
	}
	if req.AccessToken != "" {
		sum := sha256.Sum256([]byte(req.AccessToken))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if subtle.ConstantTimeCompare([]byte(c.ATH), []byte(want)) != 1 {
			return Proof{}, proofError("ath is not the hash of the access token.")
		}
	}
	if d.cfg.RequireNonce && !d.validNonce(c.Nonce, now) {
		return Proof{}, errNonceNeeded
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return Proof{}, proofError("the jwk has no thumbprint.")
	}
	jkt := base64.RawURLEncoding.EncodeToString(thumb)
	// Checked last: only a proof that is valid otherwise uses up its jti.
	// The key names the proof's key too, so that one client cannot use up
	// another's jti.
	idSum := sha256.Sum256([]byte(jkt + "\x00" + c.JTI))
	replayed, err := d.replay.Seen(ctx, base64.RawURLEncoding.EncodeToString(idSum[:]), iat.Add(d.cfg.MaxAge+2*DPoPClockSkew))
	if err != nil {
		return Proof{}, fmt.Errorf("dpop replay cache: %w", err)
	}
	if replayed {
		return Proof{}, proofError("this proof was used already (jti).")
	}
	return Proof{JKT: jkt}, nil
}

// Bind checks the proof of a refresh (an empty proof is no proof) and
// returns what the refresh decision needs of it.
func (d *DPoP) Bind(ctx context.Context, req ProofRequest) (Binding, error) {
	if req.Proof == "" {
		return Binding{}, nil
	}
	p, err := d.Check(ctx, req)
	if err != nil && ErrorCode(err) != CodeInvalidDPoPProof && ErrorCode(err) != CodeUseDPoPNonce {
		return Binding{}, err // the replay cache failed: no answer on the proof
	}
	return Binding{Present: true, JKT: p.JKT, Err: err}, nil
}

// sameHTU compares htu with the request's URL, without query and fragment
// (RFC 9449 §4.3), scheme and host case-insensitively and default ports
// dropped (RFC 3986 §6.2.3).
func sameHTU(htu, want string) bool {
	a, err1 := url.Parse(htu)
	b, err2 := url.Parse(want)
	if err1 != nil || err2 != nil || a.Host == "" {
		return false
	}
	norm := func(u *url.URL) string {
		scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		host = strings.TrimSuffix(host, map[string]string{"http": ":80", "https": ":443"}[scheme])
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		return scheme + "://" + host + path
	}
	return norm(a) == norm(b)
}

// Nonce returns the current server nonce: an HMAC of the time step under
// the shared server key, so every instance hands out and accepts the same
// nonces without storing any, and they change every step.
func (d *DPoP) Nonce() string { return d.nonceAt(d.now().Unix() / int64(dpopNonceStep/time.Second)) }

func (d *DPoP) nonceAt(step int64) string {
	m := hmac.New(sha256.New, d.nonceKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// validNonce accepts the nonce of the current step and of the one before,
// so a nonce handed out just before a step ends still works.
func (d *DPoP) validNonce(n string, now time.Time) bool {
	if n == "" {
		return false
	}
	step := now.Unix() / int64(dpopNonceStep/time.Second)
	for _, s := range []int64{step, step - 1} {
		if hmac.Equal([]byte(n), []byte(d.nonceAt(s))) {
			return true
		}
	}
	return false
}
