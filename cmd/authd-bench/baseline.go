package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/authd/authd/bench/load"
	"github.com/authd/authd/middleware"
	"github.com/authd/authd/services"
)

// baselineHandler is the bare /v1/me the real one is measured against: a gin
// engine with no middleware and one handler that verifies the access token
// exactly as authd does (same library, key, algorithm, issuer, audience and
// claim checks) and answers with its claims. No revocation check, no
// database, no logging.
func baselineHandler(tokens *services.Tokens) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/v1/me", func(c *gin.Context) {
		raw, ok := middleware.BearerToken(c)
		if !ok {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"code": services.CodeInvalidToken})
			return
		}
		p, err := tokens.Verify(c.Request.Context(), raw)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"code": services.ErrorCode(err)})
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": p.UserID.String(), "role": p.Role, "session_id": p.SessionID.String()})
	})
	return r
}

// baselineTokens builds the verifier from authd's own variables
// (AUTHD_JWT_SECRET, AUTHD_JWT_ISSUER, AUTHD_JWT_AUDIENCE; HS256). With
// revoked > 0 it also checks every token against authd's in-memory
// revocation set holding that many revoked sessions, so the cost of the
// check can be measured with the load tool against a running server.
func baselineTokens(getenv func(string) string, revoked int) (*services.Tokens, error) {
	secret := getenv("AUTHD_JWT_SECRET")
	if secret == "" {
		return nil, errors.New("-baseline-me needs AUTHD_JWT_SECRET (the secret of the authd whose tokens it verifies)")
	}
	or := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var set *services.Revocations
	if revoked > 0 {
		set = services.NewRevocations(nil, 15*time.Minute, services.SystemClock)
		now := services.SystemClock()
		for i := 0; i < revoked; i++ {
			set.Add(uuid.New(), now)
		}
	}
	return services.NewTokens(services.TokenConfig{Alg: "HS256", Secret: []byte(secret),
		Issuer: or("AUTHD_JWT_ISSUER", "authd"), Audience: or("AUTHD_JWT_AUDIENCE", "authd"), AccessTTL: 15 * time.Minute},
		set, services.SystemClock)
}

func serveBaseline(ctx context.Context, addr string, lifetime time.Duration, revoked int, getenv func(string) string, out io.Writer) (int, error) {
	if err := load.CheckLoopback("http://" + addr); err != nil {
		return 2, err
	}
	tokens, err := baselineTokens(getenv, revoked)
	if err != nil {
		return 2, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 1, err
	}
	srv := &http.Server{Handler: baselineHandler(tokens), ReadHeaderTimeout: 10 * time.Second}
	line, _ := json.Marshal(map[string]string{"msg": "listening", "addr": ln.Addr().String()})
	fmt.Fprintln(out, string(line))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ctx, cancel := context.WithTimeout(ctx, lifetime)
	defer cancel()
	select {
	case err := <-errc:
		return 1, err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return 1, err
	}
	return 0, nil
}
