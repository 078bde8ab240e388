package handlers_test

import (
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authd/authd/internal/apitest"
)

// The SSF receiver of these tests verifies SETs on its own: it reads the
// transmitter's metadata and JWKS over HTTP and checks signatures and
// claims with golang-jwt, never with authd's signing code (go-jose).

const (
	uriSessionRevoked   = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	uriCredentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	uriTokenClaims      = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
	uriVerification     = "https://schemas.openid.net/secevent/ssf/event-type/verification"
	uriStreamUpdated    = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
	urnPoll             = "urn:ietf:rfc:8936"
)

// ssfOptions is an instance with SSF on, its issuer its own URL.
func ssfOptions(env map[string]string) apitest.Options {
	e := map[string]string{"AUTHD_REUSE_GRACE": "0s"}
	for k, v := range env {
		e[k] = v
	}
	return apitest.Options{Env: e, URLEnv: []string{"AUTHD_SSF_ISSUER"}}
}

// ssfServer starts an SSF instance on one dialect.
func ssfServer(t *testing.T, dialect string, env map[string]string) *apitest.Server {
	t.Helper()
	o := ssfOptions(env)
	o.Dialect = dialect
	return apitest.New(t, o)
}

// eachSSF runs fn against an SSF instance on PostgreSQL and on SQLite.
func eachSSF(t *testing.T, env map[string]string, fn func(t *testing.T, s *apitest.Server)) {
	t.Helper()
	apitest.Each(t, ssfOptions(env), fn)
}

// ssfReceiverT is a test receiver: its token and audience, and the
// transmitter's metadata and keys as it fetched them.
type ssfReceiverT struct {
	s        *apitest.Server
	token    string
	audience string
	meta     map[string]any
	keys     map[string]any // kid → public key
	seen     map[string]bool
}

// newReceiver has an admin let a receiver in and fetches the metadata and
// JWKS like a receiver would.
func newReceiver(t *testing.T, s *apitest.Server, audience string) *ssfReceiverT {
	t.Helper()
	_, admin := newAdmin(t, s)
	r := s.Do(t, "POST", "/v1/admin/ssf/receivers", map[string]string{"description": "SIEM", "audience": audience}, apitest.Bearer(admin.AccessToken))
	if r.Status != http.StatusCreated {
		t.Fatalf("create receiver = %d %s", r.Status, r.Body)
	}
	var created struct{ Token, Audience string }
	r.JSON(t, &created)
	rc := &ssfReceiverT{s: s, token: created.Token, audience: created.Audience, keys: map[string]any{}, seen: map[string]bool{}}
	rc.meta = getJSON(t, s.URL+"/.well-known/ssf-configuration")
	if rc.meta["issuer"] != s.URL {
		t.Fatalf("issuer = %v, want %s", rc.meta["issuer"], s.URL)
	}
	jwksURI, _ := rc.meta["jwks_uri"].(string)
	set := getJSON(t, jwksURI)
	keys, _ := set["keys"].([]any)
	for _, k := range keys {
		m := k.(map[string]any)
		rc.keys[m["kid"].(string)] = parseJWK(t, m)
	}
	if len(rc.keys) == 0 {
		t.Fatalf("JWKS %s has no keys", jwksURI)
	}
	return rc
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("refusing to fetch %q: tests only talk to loopback", url)
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", url, res.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return m
}

// parseJWK reads an RSA or OKP (Ed25519) public JWK (RFC 7517, 8037).
func parseJWK(t *testing.T, m map[string]any) any {
	t.Helper()
	b64 := func(k string) []byte {
		s, _ := m[k].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			t.Fatalf("JWK member %s = %q: %v", k, s, err)
		}
		return b
	}
	switch m["kty"] {
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(b64("n")), E: int(new(big.Int).SetBytes(b64("e")).Int64())}
	case "OKP":
		if m["crv"] != "Ed25519" {
			t.Fatalf("JWK crv = %v", m["crv"])
		}
		return ed25519.PublicKey(b64("x"))
	}
	t.Fatalf("JWK kty = %v", m["kty"])
	return nil
}

// verify checks a SET as a receiver must (RFC 8417, SSF 1.0 §4): the
// signature with a key of the JWKS by kid, typ secevent+jwt, iss, aud, a
// jti not seen before, an events claim, and no exp or sub. It returns the
// claims.
func (rc *ssfReceiverT) verify(t *testing.T, raw string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		if tok.Header["typ"] != "secevent+jwt" {
			return nil, fmt.Errorf("typ %v", tok.Header["typ"])
		}
		kid, _ := tok.Header["kid"].(string)
		key, ok := rc.keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	}, jwt.WithValidMethods([]string{"RS256", "EdDSA"}), jwt.WithIssuer(rc.meta["issuer"].(string)),
		jwt.WithAudience(rc.audience), jwt.WithIssuedAt())
	if err != nil || !tok.Valid {
		t.Fatalf("SET does not verify: %v", err)
	}
	jti, _ := claims["jti"].(string)
	if jti == "" || rc.seen[jti] {
		t.Fatalf("SET jti %q is empty or was seen before", jti)
	}
	rc.seen[jti] = true
	if _, ok := claims["events"].(map[string]any); !ok {
		t.Fatalf("SET has no events claim: %v", claims)
	}
	if _, ok := claims["exp"]; ok {
		t.Fatalf("SET has exp: %v", claims)
	}
	if _, ok := claims["sub"]; ok {
		t.Fatalf("SET has sub (SSF uses sub_id): %v", claims)
	}
	return claims
}

func (rc *ssfReceiverT) do(t *testing.T, method, path string, body any) *apitest.Response {
	t.Helper()
	return rc.s.Do(t, method, path, body, apitest.Bearer(rc.token))
}

type streamT struct {
	StreamID        string   `json:"stream_id"`
	Iss             string   `json:"iss"`
	Aud             string   `json:"aud"`
	EventsSupported []string `json:"events_supported"`
	EventsRequested []string `json:"events_requested"`
	EventsDelivered []string `json:"events_delivered"`
	Delivery        struct {
		Method      string `json:"method"`
		EndpointURL string `json:"endpoint_url"`
	} `json:"delivery"`
	Format string `json:"format"`
}

func (rc *ssfReceiverT) createStream(t *testing.T, body map[string]any) streamT {
	t.Helper()
	r := rc.do(t, "POST", "/ssf/stream", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create stream = %d %s", r.Status, r.Body)
	}
	var st streamT
	r.JSON(t, &st)
	return st
}

type pollAnswer struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

// poll POSTs an RFC 8936 poll to the stream's endpoint_url.
func (rc *ssfReceiverT) poll(t *testing.T, st streamT, body map[string]any) pollAnswer {
	t.Helper()
	path := strings.TrimPrefix(st.Delivery.EndpointURL, rc.s.URL)
	if path == st.Delivery.EndpointURL {
		t.Fatalf("poll endpoint_url %q is not on the transmitter", st.Delivery.EndpointURL)
	}
	r := rc.do(t, "POST", path, body)
	if r.Status != http.StatusOK {
		t.Fatalf("poll = %d %s", r.Status, r.Body)
	}
	var a pollAnswer
	r.JSON(t, &a)
	return a
}

// pollFor polls (long polls, acknowledging nothing) until a SET with event
// type uri arrives or limit passes; it returns that SET's claims and jti.
func (rc *ssfReceiverT) pollFor(t *testing.T, st streamT, uri string, limit time.Duration) (jwt.MapClaims, string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		a := rc.poll(t, st, map[string]any{"maxEvents": 10})
		fresh := false
		for jti, raw := range a.Sets {
			if rc.seen[jti] {
				continue
			}
			fresh = true
			c := rc.verify(t, raw)
			if _, ok := c["events"].(map[string]any)[uri]; ok {
				return c, jti
			}
		}
		if !fresh {
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Fatalf("no %s SET within %s", uri, limit)
	return nil, ""
}

func TestSSF_Configuration(t *testing.T) {
	s := ssfServer(t, "sqlite", nil)
	m := getJSON(t, s.URL+"/.well-known/ssf-configuration")
	for k, want := range map[string]string{
		"issuer": s.URL, "jwks_uri": s.URL + "/.well-known/ssf-jwks.json", "configuration_endpoint": s.URL + "/ssf/stream",
		"status_endpoint": s.URL + "/ssf/status", "verification_endpoint": s.URL + "/ssf/verify", "spec_version": "1_0",
		"default_subjects": "ALL",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %s", k, m[k], want)
		}
	}
	if fmt.Sprint(m["delivery_methods_supported"]) != "[urn:ietf:rfc:8935 "+urnPoll+"]" {
		t.Errorf("delivery_methods_supported = %v", m["delivery_methods_supported"])
	}
	if fmt.Sprint(m["authorization_schemes"]) != "[map[spec_urn:urn:ietf:rfc:6750]]" {
		t.Errorf("authorization_schemes = %v", m["authorization_schemes"])
	}
	// The access tokens' JWKS keeps its content (empty with HS256).
	if k := getJSON(t, s.URL+"/.well-known/jwks.json")["keys"].([]any); len(k) != 0 {
		t.Errorf("/.well-known/jwks.json = %v, want no keys with HS256", k)
	}

	// Without AUTHD_SSF_ISSUER there is no transmitter.
	off := apitest.New(t, apitest.Options{Dialect: "sqlite"})
	if r := off.Do(t, "GET", "/.well-known/ssf-configuration", nil); r.Status != 404 {
		t.Errorf("ssf-configuration without an issuer = %d, want 404", r.Status)
	}
}

// TestSSF_ReuseDetectionByPoll: a reuse detection reaches a poll receiver
// as a CAEP session-revoked within 5 s, and acknowledged SETs are not
// returned again.
func TestSSF_ReuseDetectionByPoll(t *testing.T) {
	eachSSF(t, nil, func(t *testing.T, s *apitest.Server) {
		rc := newReceiver(t, s, "https://receiver.example/ssf")
		st := rc.createStream(t, map[string]any{"events_requested": []string{uriSessionRevoked, "urn:example:unknown"},
			"delivery": map[string]string{"method": urnPoll}})
		if st.Aud != rc.audience || st.Iss != s.URL || fmt.Sprint(st.EventsDelivered) != "["+uriSessionRevoked+"]" {
			t.Fatalf("stream = %+v", st)
		}
		_, tok := s.NewUser(t, "ssf-reuse")
		s.MustRefresh(t, tok.RefreshToken)
		if r := s.Refresh(t, tok.RefreshToken); r.Code() != "refresh_token_reused" {
			t.Fatalf("replay = %d %s, want refresh_token_reused", r.Status, r.Body)
		}
		detected := time.Now()
		claims, jti := rc.pollFor(t, st, uriSessionRevoked, 5*time.Second)
		if d := time.Since(detected); d > 5*time.Second {
			t.Fatalf("session-revoked after %s, want within 5 s", d)
		}
		ev := claims["events"].(map[string]any)[uriSessionRevoked].(map[string]any)
		if ev["initiating_entity"] != "policy" || fmt.Sprint(ev["reason_admin"]) != "map[en:reuse_detected]" {
			t.Errorf("session-revoked = %v", ev)
		}
		sub := claims["sub_id"].(map[string]any)
		if sub["format"] != "complex" || fmt.Sprint(sub["session"]) != "map[format:opaque id:"+tok.SessionID+"]" ||
			fmt.Sprint(sub["user"]) != "map[format:iss_sub iss:authd sub:"+tok.User.ID+"]" {
			t.Errorf("sub_id = %v", sub)
		}
		// Until acknowledged the SET is offered again; then never.
		if a := rc.poll(t, st, map[string]any{"returnImmediately": true}); a.Sets[jti] == "" {
			t.Fatalf("unacknowledged SET %s not offered again: %v", jti, a.Sets)
		}
		if a := rc.poll(t, st, map[string]any{"ack": []string{jti}, "returnImmediately": true}); len(a.Sets) != 0 || a.MoreAvailable {
			t.Fatalf("after ack: %+v, want nothing", a)
		}
	})
}

// TestSSF_Verification: a verification request puts a verification SET
// with the receiver's state on the stream; status changes pause and resume
// delivery and are told by stream-updated SETs.
func TestSSF_Verification(t *testing.T) {
	eachSSF(t, nil, func(t *testing.T, s *apitest.Server) {
		rc := newReceiver(t, s, "")
		st := rc.createStream(t, map[string]any{"events_requested": []string{uriSessionRevoked}, "delivery": map[string]string{"method": urnPoll}})
		if r := rc.do(t, "POST", "/ssf/verify", map[string]string{"stream_id": st.StreamID, "state": "VGhpcyBpcyBh"}); r.Status != 204 {
			t.Fatalf("verify = %d %s", r.Status, r.Body)
		}
		claims, jti := rc.pollFor(t, st, uriVerification, 5*time.Second)
		if ev := claims["events"].(map[string]any)[uriVerification].(map[string]any); ev["state"] != "VGhpcyBpcyBh" {
			t.Errorf("verification = %v", ev)
		}
		if fmt.Sprint(claims["sub_id"]) != "map[format:opaque id:"+st.StreamID+"]" {
			t.Errorf("verification sub_id = %v", claims["sub_id"])
		}
		rc.poll(t, st, map[string]any{"ack": []string{jti}, "maxEvents": 0})

		// Paused: events are held, not handed out.
		r := rc.do(t, "POST", "/ssf/status", map[string]string{"stream_id": st.StreamID, "status": "paused", "reason": "maintenance"})
		if r.Status != 200 || r.Map(t)["status"] != "paused" {
			t.Fatalf("pause = %d %s", r.Status, r.Body)
		}
		if r := rc.do(t, "GET", "/ssf/status?stream_id="+st.StreamID, nil); r.Map(t)["status"] != "paused" || r.Map(t)["reason"] != "maintenance" {
			t.Fatalf("status = %s", r.Body)
		}
		_, tok := s.NewUser(t, "ssf-paused")
		if r := s.Do(t, "POST", "/v1/auth/logout", map[string]string{"refresh_token": tok.RefreshToken}); r.Status != 204 {
			t.Fatalf("logout = %d", r.Status)
		}
		if a := rc.poll(t, st, map[string]any{"returnImmediately": true}); len(a.Sets) != 0 {
			t.Fatalf("a paused stream handed out %d SETs", len(a.Sets))
		}
		if r := rc.do(t, "POST", "/ssf/status", map[string]string{"stream_id": st.StreamID, "status": "enabled"}); r.Status != 200 {
			t.Fatalf("enable = %d %s", r.Status, r.Body)
		}
		got := map[string]bool{}
		for _, raw := range rc.poll(t, st, map[string]any{"returnImmediately": true}).Sets {
			for uri := range rc.verify(t, raw)["events"].(map[string]any) {
				got[uri] = true
			}
		}
		if !got[uriSessionRevoked] || !got[uriStreamUpdated] {
			t.Fatalf("after resuming: %v, want the held session-revoked and stream-updated", got)
		}

		// Disabled: nothing is queued, and verification is refused.
		rc.do(t, "POST", "/ssf/status", map[string]string{"stream_id": st.StreamID, "status": "disabled"})
		if r := rc.do(t, "POST", "/ssf/verify", map[string]string{"stream_id": st.StreamID}); r.Code() != "invalid_request" {
			t.Fatalf("verify a disabled stream = %d %s", r.Status, r.Body)
		}
	})
}

// TestSSF_EventMapping: a password change is credential-change, a role
// change token-claims-change; an email-format stream names the user by
// email.
func TestSSF_EventMapping(t *testing.T) {
	eachSSF(t, nil, func(t *testing.T, s *apitest.Server) {
		rc := newReceiver(t, s, "")
		st := rc.createStream(t, map[string]any{"events_requested": []string{uriCredentialChange, uriTokenClaims},
			"delivery": map[string]string{"method": urnPoll}, "format": "email"})
		email, tok := s.NewUser(t, "ssf-map")
		r := s.Do(t, "POST", "/v1/me/password", map[string]string{"current_password": apitest.Password,
			"new_password": "a brand new passphrase 77"}, apitest.Bearer(tok.AccessToken))
		if r.Status != 204 {
			t.Fatalf("change password = %d %s", r.Status, r.Body)
		}
		claims, _ := rc.pollFor(t, st, uriCredentialChange, 5*time.Second)
		ev := claims["events"].(map[string]any)[uriCredentialChange].(map[string]any)
		if ev["credential_type"] != "password" || ev["change_type"] != "update" {
			t.Errorf("credential-change = %v", ev)
		}
		if fmt.Sprint(claims["sub_id"]) != "map[email:"+email+" format:email]" {
			t.Errorf("sub_id = %v", claims["sub_id"])
		}
		_, admin := newAdmin(t, s)
		if r := s.Do(t, "PATCH", "/v1/admin/users/"+tok.User.ID, map[string]string{"role": "admin"}, apitest.Bearer(admin.AccessToken)); r.Status != 200 {
			t.Fatalf("set role = %d %s", r.Status, r.Body)
		}
		claims, _ = rc.pollFor(t, st, uriTokenClaims, 5*time.Second)
		ev = claims["events"].(map[string]any)[uriTokenClaims].(map[string]any)
		if fmt.Sprint(ev["claims"]) != "map[role:admin]" || ev["initiating_entity"] != "admin" {
			t.Errorf("token-claims-change = %v", ev)
		}
	})
}

// TestSSF_StreamManagement covers the receiver tokens and the stream API.
func TestSSF_StreamManagement(t *testing.T) {
	eachSSF(t, nil, func(t *testing.T, s *apitest.Server) {
		rc := newReceiver(t, s, "")
		other := newReceiver(t, s, "")
		if r := s.Do(t, "GET", "/ssf/stream", nil); r.Status != 401 || r.Code() != "invalid_token" {
			t.Fatalf("no token = %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", "/ssf/stream", nil, apitest.Bearer("ssfr_not-a-token")); r.Status != 401 {
			t.Fatalf("bad token = %d", r.Status)
		}
		st := rc.createStream(t, map[string]any{"events_requested": []string{uriSessionRevoked}, "description": "first"})
		if st.Delivery.Method != urnPoll || st.Delivery.EndpointURL != s.URL+"/ssf/poll/"+st.StreamID || st.Format != "iss_sub" {
			t.Fatalf("stream defaults = %+v", st)
		}
		if r := other.do(t, "GET", "/ssf/stream?stream_id="+st.StreamID, nil); r.Status != 404 {
			t.Fatalf("another receiver's stream = %d, want 404", r.Status)
		}
		r := rc.do(t, "PATCH", "/ssf/stream", map[string]any{"stream_id": st.StreamID, "events_requested": []string{uriSessionRevoked, uriCredentialChange}})
		var got streamT
		if r.JSON(t, &got); r.Status != 200 || len(got.EventsDelivered) != 2 {
			t.Fatalf("patch = %d %s", r.Status, r.Body)
		}
		r = rc.do(t, "PUT", "/ssf/stream", map[string]any{"stream_id": st.StreamID, "iss": s.URL, "events_requested": []string{uriTokenClaims}})
		if r.JSON(t, &got); r.Status != 200 || fmt.Sprint(got.EventsRequested) != "["+uriTokenClaims+"]" {
			t.Fatalf("put = %d %s", r.Status, r.Body)
		}
		var list []streamT
		r = rc.do(t, "GET", "/ssf/stream", nil)
		if r.JSON(t, &list); len(list) != 1 || list[0].StreamID != st.StreamID {
			t.Fatalf("list = %s", r.Body)
		}
		bad := []map[string]any{
			{"delivery": map[string]string{"method": "urn:ietf:rfc:8935", "endpoint_url": "http://127.0.0.1:1/"}}, // loopback: the SSRF guard refuses it
			{"delivery": map[string]string{"method": "urn:ietf:rfc:8935", "endpoint_url": "ftp://receiver.example/"}},
			{"delivery": map[string]string{"method": "urn:example"}},
			{"delivery": map[string]string{"method": urnPoll, "endpoint_url": "https://x.example/"}},
			{"format": "phone_number"},
			{"events_requested": []string{"not a uri"}},
		}
		for _, b := range bad {
			if r := rc.do(t, "POST", "/ssf/stream", b); r.Code() != "invalid_request" {
				t.Errorf("create %v = %d %s, want invalid_request", b, r.Status, r.Body)
			}
		}
		if r := rc.do(t, "POST", "/ssf/stream", `{"unknown": 1}`); r.Code() != "invalid_request" {
			t.Errorf("unknown member = %d", r.Status)
		}
		if r := other.do(t, "DELETE", "/ssf/stream?stream_id="+st.StreamID, nil); r.Status != 404 {
			t.Fatalf("delete another receiver's stream = %d", r.Status)
		}
		if r := rc.do(t, "DELETE", "/ssf/stream?stream_id="+st.StreamID, nil); r.Status != 204 {
			t.Fatalf("delete = %d %s", r.Status, r.Body)
		}
		if r := rc.do(t, "GET", "/ssf/stream?stream_id="+st.StreamID, nil); r.Status != 404 {
			t.Fatalf("deleted stream = %d", r.Status)
		}
	})
}

// TestSSF_ReceiverAdministration: receivers are created by admins with a
// fresh token only, listed without their token, and deleted with their
// streams.
func TestSSF_ReceiverAdministration(t *testing.T) {
	eachSSF(t, nil, func(t *testing.T, s *apitest.Server) {
		_, admin := newAdmin(t, s)
		stale := s.MustRefresh(t, admin.RefreshToken)
		if r := s.Do(t, "POST", "/v1/admin/ssf/receivers", map[string]string{}, apitest.Bearer(stale.AccessToken)); r.Status != 401 || r.Code() != "fresh_token_required" {
			t.Fatalf("create with a refreshed token = %d %s", r.Status, r.Body)
		}
		_, user := s.NewUser(t, "ssf-user")
		if r := s.Do(t, "POST", "/v1/admin/ssf/receivers", map[string]string{}, apitest.Bearer(user.AccessToken)); r.Status != 403 {
			t.Fatalf("create as a user = %d", r.Status)
		}
		rc := newReceiver(t, s, "")
		if !strings.HasPrefix(rc.audience, "urn:authd:ssf:receiver:") {
			t.Fatalf("default audience = %q", rc.audience)
		}
		r := s.Do(t, "GET", "/v1/admin/ssf/receivers", nil, apitest.Bearer(stale.AccessToken))
		if r.Status != 200 || strings.Contains(string(r.Body), rc.token) || strings.Contains(string(r.Body), `"token"`) {
			t.Fatalf("list = %d %s", r.Status, r.Body)
		}
		var list struct{ Receivers []struct{ ID string } }
		r.JSON(t, &list)
		if len(list.Receivers) != 1 {
			t.Fatalf("receivers = %s", r.Body)
		}
		rc.createStream(t, map[string]any{})
		if r := s.Do(t, "DELETE", "/v1/admin/ssf/receivers/"+list.Receivers[0].ID, nil, apitest.Bearer(stale.AccessToken)); r.Code() != "fresh_token_required" {
			t.Fatalf("delete with a refreshed token = %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "DELETE", "/v1/admin/ssf/receivers/"+list.Receivers[0].ID, nil, apitest.Bearer(admin.AccessToken)); r.Status != 204 {
			t.Fatalf("delete = %d %s", r.Status, r.Body)
		}
		if r := rc.do(t, "GET", "/ssf/stream", nil); r.Status != 401 {
			t.Fatalf("a deleted receiver's token = %d, want 401", r.Status)
		}
	})
}

// TestSSF_EdDSA: with AUTHD_SSF_SIGNING_ALG=EdDSA the SETs are Ed25519
// signatures the receiver verifies from an OKP key.
func TestSSF_EdDSA(t *testing.T) {
	s := ssfServer(t, "sqlite", map[string]string{"AUTHD_SSF_SIGNING_ALG": "EdDSA"})
	rc := newReceiver(t, s, "")
	st := rc.createStream(t, map[string]any{})
	rc.do(t, "POST", "/ssf/verify", map[string]string{"stream_id": st.StreamID})
	for _, raw := range rc.poll(t, st, map[string]any{"returnImmediately": true}).Sets {
		header, _, _ := strings.Cut(raw, ".")
		h, _ := base64.RawURLEncoding.DecodeString(header)
		if !strings.Contains(string(h), `"EdDSA"`) {
			t.Fatalf("SET header %s, want EdDSA", h)
		}
		rc.verify(t, raw)
		return
	}
	t.Fatal("no verification SET")
}
