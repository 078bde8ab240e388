package handlers

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

func healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 while the database answers and the server is not
// draining; load balancers stop sending traffic on 503.
func readyz(ping func(context.Context) error, draining *atomic.Bool) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		if draining != nil && draining.Load() {
			return services.Errorf(services.CodeUnavailable, "The server is shutting down.")
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := ping(ctx); err != nil {
			return services.Errorf(services.CodeUnavailable, "The database does not answer.")
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
		return nil
	})
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// jwks publishes the public verification key (never the private part), or
// an empty set with HS256.
func jwks(pub ed25519.PublicKey, kid string) gin.HandlerFunc {
	keys := []jwk{}
	if pub != nil {
		keys = append(keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
			Kid: kid, Alg: "EdDSA", Use: "sig"})
	}
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.JSON(http.StatusOK, gin.H{"keys": keys})
	}
}
