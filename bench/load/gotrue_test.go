package load_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/bench/load"
)

// gotrueStub answers the four GoTrue calls the load tool makes, in
// supabase/auth's shapes (200 sign-up, {"code": 400, "error_code": ...}
// errors), with refresh tokens that are valid once: it checks the client
// side of the dialect (paths, error codes, chaining), not a server.
type gotrueStub struct {
	mu      sync.Mutex
	users   map[string]bool
	current map[string]bool // refresh tokens not yet used
	access  map[string]bool
	n       int
}

func (g *gotrueStub) tokens(w http.ResponseWriter) {
	g.n++
	rt, at := fmt.Sprintf("r%d", g.n), fmt.Sprintf("a%d", g.n)
	g.current[rt], g.access[at] = true, true
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": at, "refresh_token": rt, "token_type": "bearer"})
}

func gotrueError(w http.ResponseWriter, status int, code string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": status, "error_code": code, "msg": code})
}

func (g *gotrueStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var body map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/signup":
		if g.users[body["email"]] {
			gotrueError(w, http.StatusUnprocessableEntity, "user_already_exists")
			return
		}
		g.users[body["email"]] = true
		g.tokens(w)
	case r.Method == http.MethodPost && r.URL.Path == "/token" && r.URL.Query().Get("grant_type") == "password":
		if !g.users[body["email"]] {
			gotrueError(w, http.StatusBadRequest, "invalid_credentials")
			return
		}
		g.tokens(w)
	case r.Method == http.MethodPost && r.URL.Path == "/token" && r.URL.Query().Get("grant_type") == "refresh_token":
		if !g.current[body["refresh_token"]] {
			gotrueError(w, http.StatusBadRequest, "refresh_token_already_used")
			return
		}
		delete(g.current, body["refresh_token"])
		g.tokens(w)
	case r.Method == http.MethodGet && r.URL.Path == "/user":
		if !g.access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			gotrueError(w, http.StatusForbidden, "bad_jwt")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "u"})
	default:
		gotrueError(w, http.StatusNotFound, "not_found")
	}
}

func TestGoTrueDialect(t *testing.T) {
	stub := &gotrueStub{users: map[string]bool{}, current: map[string]bool{}, access: map[string]bool{}}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	targets, err := load.NewTargets([]string{srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []string{load.ScenarioRefresh, load.ScenarioMe, load.ScenarioMixed} {
		// Ready runs once, after the set-up's sign-ins, before any request
		// of the measured phase.
		stub.mu.Lock()
		before := stub.n
		stub.mu.Unlock()
		readies, atReady := 0, 0
		res, err := load.Run(context.Background(), load.Config{Targets: targets, API: load.APIGoTrue, Scenario: sc,
			Workers: 4, Users: 2, Duration: time.Minute, MaxRequests: 100, EmailPrefix: "gotrue",
			Ready: func(context.Context) error {
				stub.mu.Lock()
				defer stub.mu.Unlock()
				readies, atReady = readies+1, stub.n
				return nil
			}})
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		stub.mu.Lock()
		issued := stub.n
		stub.mu.Unlock()
		if readies != 1 || atReady-before < 4 || (sc == load.ScenarioRefresh && issued-atReady != 100) {
			t.Errorf("%s: Ready called %d times, %d token pairs issued before it and %d after; want once, after the 4 sign-ins",
				sc, readies, atReady-before, issued-atReady)
		}
		if res.OK != 100 || res.Unexpected401 != 0 || res.ServerErrors != 0 {
			t.Errorf("%s: %d ok, %d refused, %d 5xx, statuses %v; want 100 ok", sc, res.OK, res.Unexpected401, res.ServerErrors, res.Statuses)
		}
	}

	cl := &load.Client{HTTP: load.NewHTTPClient(1), API: load.APIGoTrue}
	ctx := context.Background()
	if r := cl.Register(ctx, srv.URL, "x@example.com", "pw"); !r.Registered() {
		t.Errorf("sign-up: %s, want registered", r.Key())
	}
	if r := cl.Register(ctx, srv.URL, "x@example.com", "pw"); !r.Registered() || r.Code != "user_already_exists" {
		t.Errorf("second sign-up: %s, want 422 user_already_exists counted as registered", r.Key())
	}
	first := cl.Login(ctx, srv.URL, "x@example.com", "pw")
	if first.Status != http.StatusOK || first.Tokens.RefreshToken == "" {
		t.Fatalf("login: %s %s", first.Key(), first.Body)
	}
	if r := cl.Refresh(ctx, srv.URL, first.Tokens.RefreshToken); r.Status != http.StatusOK || r.Refused {
		t.Fatalf("refresh: %s", r.Key())
	}
	// The used token again: GoTrue's 400 is a refusal, as authd's 401 is.
	if r := cl.Refresh(ctx, srv.URL, first.Tokens.RefreshToken); !r.Refused || r.Key() != "400 refresh_token_already_used" {
		t.Errorf("reused refresh token: %s refused=%v, want a refusal 400 refresh_token_already_used", r.Key(), r.Refused)
	}
	if r := cl.Me(ctx, srv.URL, "forged"); !r.Refused || r.Key() != "403 bad_jwt" {
		t.Errorf("/user with a bad token: %s refused=%v, want a refusal 403 bad_jwt", r.Key(), r.Refused)
	}
	// A 404 is an error but not a refused credential.
	if r := cl.Do(ctx, "me", srv.URL, http.MethodGet, "/nowhere", nil, ""); r.Refused || r.Key() != "404 not_found" {
		t.Errorf("404: %s refused=%v", r.Key(), r.Refused)
	}
	if _, err := load.Run(ctx, load.Config{Targets: targets, API: "keycloak", Scenario: load.ScenarioRefresh, Workers: 1, Duration: time.Second}); err == nil {
		t.Error("an unknown API was accepted")
	}
}
