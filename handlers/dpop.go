package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// dpopSetup is what the handlers need for DPoP (RFC 9449): the proof
// checker (nil: DPoP is off and a DPoP header is ignored) and the public
// base URL that proofs name in htu.
type dpopSetup struct {
	check     *services.DPoP
	publicURL string
}

var errManyProofs = services.Errorf(services.CodeInvalidDPoPProof, "Send exactly one DPoP header.")

// proofHeader returns the request's DPoP header ("" without one).
func proofHeader(c *gin.Context) (string, error) {
	vs := c.Request.Header.Values("DPoP")
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vs[0]), nil
	default:
		return "", errManyProofs
	}
}

// RequestURL is the URL of the request as its client addressed it, the
// value a DPoP proof's htu must have: AUTHD_PUBLIC_URL and the path when
// it is set, else the scheme (TLS, or X-Forwarded-Proto from a trusted
// proxy) and the Host header the request came with.
func RequestURL(c *gin.Context, publicURL string) string {
	if publicURL != "" {
		return strings.TrimRight(publicURL, "/") + c.Request.URL.EscapedPath()
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	} else if p := c.GetHeader("X-Forwarded-Proto"); p == "https" && c.RemoteIP() != c.ClientIP() {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host + c.Request.URL.EscapedPath()
}

// proofRequest is the proof of c for the token endpoint at hand.
func (d dpopSetup) proofRequest(c *gin.Context, proof string) services.ProofRequest {
	return services.ProofRequest{Proof: proof, Method: c.Request.Method, URL: RequestURL(c, d.publicURL)}
}

// nonce puts the current server nonce on the answer when nonces are
// required, so that a client always holds the next one (RFC 9449 §8.2).
func (d dpopSetup) nonce(c *gin.Context) {
	if d.check != nil && d.check.Config().RequireNonce {
		c.Header("DPoP-Nonce", d.check.Nonce())
	}
}

// loginBinding checks the DPoP proof of a login and returns the thumbprint
// to bind the new session to ("" for none). A client of
// AUTHD_DPOP_REQUIRED_CLIENTS must send one.
func (d dpopSetup) loginBinding(c *gin.Context, clientID string) (string, error) {
	if d.check == nil {
		return "", nil
	}
	proof, err := proofHeader(c)
	if err != nil {
		return "", err
	}
	d.nonce(c)
	if proof == "" {
		if d.check.Required(clientID) {
			return "", services.Errorf(services.CodeInvalidDPoPProof, "This app must bind its sessions to a key: send a DPoP proof with the login.")
		}
		return "", nil
	}
	p, err := d.check.Check(c.Request.Context(), d.proofRequest(c, proof))
	if err != nil {
		return "", err
	}
	return p.JKT, nil
}

// refreshBinding checks the DPoP proof of a refresh. A proof that fails is
// no error here: the refresh decides on it once it knows the session (a
// failure is recorded against it, and a wrong secret stays invalid_token).
func (d dpopSetup) refreshBinding(c *gin.Context) (services.Binding, error) {
	if d.check == nil {
		return services.Binding{}, nil
	}
	proof, err := proofHeader(c)
	if err != nil {
		return services.Binding{Present: true, Err: err}, nil
	}
	d.nonce(c)
	return d.check.Bind(c.Request.Context(), d.proofRequest(c, proof))
}

// tokenType is the token_type of an answer with the access token of p.
func tokenType(p services.Principal) string {
	if p.JKT != "" {
		return "DPoP"
	}
	return "Bearer"
}

// authorizationServer is the RFC 8414 metadata.
type authorizationServer struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	DPoPSigningAlgValuesSupported     []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// oauthMetadata answers /.well-known/oauth-authorization-server (RFC 8414).
// The issuer is the public URL (AUTHD_PUBLIC_URL, else the request's
// scheme and host); clients are public, hence auth method none.
func oauthMetadata(d dpopSetup) gin.HandlerFunc {
	return func(c *gin.Context) {
		base := strings.TrimSuffix(RequestURL(c, d.publicURL), c.Request.URL.EscapedPath())
		m := authorizationServer{
			Issuer: base, TokenEndpoint: base + "/oauth/token", RevocationEndpoint: base + "/oauth/revoke",
			JWKSURI: base + "/.well-known/jwks.json", GrantTypesSupported: []string{"refresh_token"},
			ResponseTypesSupported: []string{}, TokenEndpointAuthMethodsSupported: []string{"none"},
		}
		if d.check != nil {
			m.DPoPSigningAlgValuesSupported = services.DPoPAlgNames()
		}
		c.Header("Cache-Control", "public, max-age=3600")
		c.JSON(http.StatusOK, m)
	}
}
