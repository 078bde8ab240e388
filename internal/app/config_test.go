package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad_Defaults(t *testing.T) {
	cfg, err := Load(envOf(nil))
	if err != nil {
		t.Fatalf("Load(empty) error = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Addr", cfg.Addr, ":8080"},
		{"SQLitePath", cfg.SQLitePath, "authd.db"},
		{"Env", cfg.Env, "development"},
		{"JWTAlg", cfg.JWTAlg, "HS256"},
		{"JWTIssuer", cfg.JWTIssuer, "authd"},
		{"JWTAudience", cfg.JWTAudience, "authd"},
		{"AccessTTL", cfg.AccessTTL, 15 * time.Minute},
		{"RefreshTTL", cfg.RefreshTTL, 336 * time.Hour},
		{"SessionMaxAge", cfg.SessionMaxAge, 720 * time.Hour},
		{"ReuseGrace", cfg.ReuseGrace, 10 * time.Second},
		{"PasswordMinLength", cfg.PasswordMinLength, 12},
		{"MaxSessions", cfg.MaxSessions, 20},
		{"BcryptCost", cfg.BcryptCost, 12},
		{"RateLoginIP", cfg.RateLoginIP.Raw, "20-M"},
		{"RateLoginAccount rates", len(cfg.RateLoginAccount.Rates), 2},
		{"RateRefreshIP", cfg.RateRefreshIP.Raw, "60-M"},
		{"RateRegisterIP", cfg.RateRegisterIP.Raw, "10-H"},
		{"RateLoginDevice", cfg.RateLoginDevice.Raw, "5-M,50-H"},
		{"RateReauthSession", cfg.RateReauthSession.Raw, "5-15M"},
		{"RateReauthSession window", cfg.RateReauthSession.Rates[0].Period, 15 * time.Minute},
		{"DeviceTokenTTL", cfg.DeviceTokenTTL, 90 * 24 * time.Hour},
		{"SignupEnabled", cfg.SignupEnabled, true},
		{"CookieSecure", cfg.CookieSecure, true},
		{"LogLevel", cfg.LogLevel, "info"},
		{"LogFormat", cfg.LogFormat, "json"},
		{"TrustedProxies", len(cfg.TrustedProxies), 0},
		{"DPoPMaxAge", cfg.DPoPMaxAge, 60 * time.Second},
		{"DPoPNonce", cfg.DPoPNonce, false},
		{"DPoPRequiredClients", len(cfg.DPoPRequiredClients), 0},
		{"PublicURL", cfg.PublicURL, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(cfg.JWTSecretBytes) < 32 || len(cfg.Warnings) == 0 {
		t.Errorf("development without a secret: secret %d bytes, warnings %q; want a random 32-byte secret and a warning", len(cfg.JWTSecretBytes), cfg.Warnings)
	}
	if strings.Contains(cfg.String(), string(cfg.JWTSecretBytes)) {
		t.Errorf("Config.String() shows the secret")
	}
}

// AUTH-14: production refuses a missing or short secret and names it.
func TestLoad_ProductionSecret(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		wantErr bool
	}{
		{"missing", "", true},
		{"31 bytes", strings.Repeat("s", 31), true},
		{"32 bytes", strings.Repeat("s", 32), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(envOf(map[string]string{"AUTHD_ENV": "production", "AUTHD_JWT_SECRET": tt.secret}))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Load(production, %d-byte secret) error = %v, want error %v", len(tt.secret), err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "AUTHD_JWT_SECRET") {
				t.Errorf("error %q does not name AUTHD_JWT_SECRET", err)
			}
		})
	}
}

func TestLoad_BadValuesNameTheVariable(t *testing.T) {
	tests := map[string]string{
		"AUTHD_ACCESS_TTL":          "fifteen minutes",
		"AUTHD_BCRYPT_COST":         "9",
		"AUTHD_BCRYPT_NICE":         "20",
		"AUTHD_RATE_LOGIN_ACCOUNT":  "5-M,lots",
		"AUTHD_MAX_SESSIONS":        "0",
		"AUTHD_TRUSTED_PROXIES":     "not-a-cidr",
		"AUTHD_CORS_ORIGINS":        "null",
		"AUTHD_JWT_ALG":             "RS256",
		"AUTHD_DATABASE_URL":        "mysql://x",
		"AUTHD_PASSWORD_MIN_LENGTH": "4",
		"AUTHD_SIGNUP_ENABLED":      "perhaps",
		"AUTHD_LOG_FORMAT":          "xml",
		"AUTHD_RATE_REAUTH_SESSION": "5-0M",
		"AUTHD_RATE_LOGIN_DEVICE":   "5-15Y",
		"AUTHD_DEVICE_TOKEN_TTL":    "0s",
		"AUTHD_DPOP_MAX_AGE":        "1h",
		"AUTHD_DPOP_NONCE":          "sometimes",
		"AUTHD_PUBLIC_URL":          "https://auth.example.com/base?x",
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(envOf(map[string]string{name: value}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("Load(%s=%q) error = %v, want an error naming %s", name, value, err, name)
			}
		})
	}
}

func TestLoad_SeveralRates(t *testing.T) {
	cfg, err := Load(envOf(map[string]string{"AUTHD_RATE_LOGIN_ACCOUNT": "5-M, 50-H"}))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.RateLoginAccount.Rates
	if len(r) != 2 || r[0].Limit != 5 || r[0].Period != time.Minute || r[1].Limit != 50 || r[1].Period != time.Hour {
		t.Fatalf("rates = %+v, want 5/min and 50/hour", r)
	}
}

// A window of several periods ("5-15M"), which ulule/limiter's own parser
// does not take.
func TestLoad_RateOverSeveralPeriods(t *testing.T) {
	cfg, err := Load(envOf(map[string]string{"AUTHD_RATE_REAUTH_SESSION": "5-15M,20-2h"}))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.RateReauthSession.Rates
	if len(r) != 2 || r[0].Limit != 5 || r[0].Period != 15*time.Minute || r[0].Formatted != "5-15M" ||
		r[1].Limit != 20 || r[1].Period != 2*time.Hour {
		t.Fatalf("rates = %+v, want 5 per 15 minutes and 20 per 2 hours", r)
	}
}

func TestLoad_EdDSAKeyFile(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(envOf(map[string]string{"AUTHD_JWT_ALG": "EdDSA", "AUTHD_JWT_PRIVATE_KEY_FILE": path}))
	if err != nil {
		t.Fatalf("Load(EdDSA) error = %v", err)
	}
	if !cfg.PrivateKey.Equal(priv) {
		t.Fatal("loaded key differs from the file's")
	}
	_, err = Load(envOf(map[string]string{"AUTHD_JWT_ALG": "EdDSA"}))
	if err == nil || !strings.Contains(err.Error(), "AUTHD_JWT_PRIVATE_KEY_FILE") {
		t.Fatalf("Load(EdDSA without key) error = %v, want one naming AUTHD_JWT_PRIVATE_KEY_FILE", err)
	}
}

// Every bad variable is reported at once, parse and validation problems
// together, each naming its variable once: an operator fixes them in one
// round instead of one per start.
func TestLoad_ReportsEveryProblemAtOnce(t *testing.T) {
	_, err := Load(envOf(map[string]string{
		"AUTHD_ACCESS_TTL":     "fifteen minutes", // does not parse
		"AUTHD_SIGNUP_ENABLED": "perhaps",         // does not parse
		"AUTHD_BCRYPT_COST":    "9",
		"AUTHD_LOG_FORMAT":     "xml",
		"AUTHD_CORS_ORIGINS":   "null",
		"AUTHD_ENV":            "production", // without AUTHD_JWT_SECRET
	}))
	var got []string
	for _, e := range problemsOf(err) {
		var ce *configError
		if !errors.As(e, &ce) {
			t.Fatalf("problem %q names no variable", e)
		}
		got = append(got, ce.Var)
	}
	sort.Strings(got)
	want := []string{"AUTHD_ACCESS_TTL", "AUTHD_BCRYPT_COST", "AUTHD_CORS_ORIGINS", "AUTHD_JWT_SECRET", "AUTHD_LOG_FORMAT", "AUTHD_SIGNUP_ENABLED"}
	if !slices.Equal(got, want) {
		t.Fatalf("Load() problems name %q, want each of %q once\n%v", got, want, err)
	}
}

// Validation changes nothing and touches nothing: the development secret,
// the key file and the CPU count are resolve's, after validation passed.
func TestConfig_ValidateHasNoSideEffects(t *testing.T) {
	cfg, err := parse(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate(defaults) = %v", err)
	}
	if cfg.JWTSecretBytes != nil || cfg.Warnings != nil || cfg.BcryptConcurrency != 0 {
		t.Fatalf("after validate: secret %d bytes, warnings %q, bcrypt concurrency %d; want all unset",
			len(cfg.JWTSecretBytes), cfg.Warnings, cfg.BcryptConcurrency)
	}
	missing := filepath.Join(t.TempDir(), "no-such-key.pem")
	cfg, err = parse(envOf(map[string]string{"AUTHD_JWT_ALG": "EdDSA", "AUTHD_JWT_PRIVATE_KEY_FILE": missing}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate(EdDSA with a key file path) = %v; the file is resolve's to read", err)
	}
	if _, err := Load(envOf(map[string]string{"AUTHD_JWT_ALG": "EdDSA", "AUTHD_JWT_PRIVATE_KEY_FILE": missing})); err == nil ||
		!strings.Contains(err.Error(), "AUTHD_JWT_PRIVATE_KEY_FILE") {
		t.Fatalf("Load(EdDSA, missing key file) = %v, want an error naming AUTHD_JWT_PRIVATE_KEY_FILE", err)
	}
}
