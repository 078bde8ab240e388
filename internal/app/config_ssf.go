package app

import (
	"net/url"
	"time"
)

// SSFConfig is the configuration of the Shared Signals transmitter.
type SSFConfig struct {
	// SSFIssuer is the transmitter's URL: the iss of its SETs and the base
	// of its endpoints. Empty turns SSF off.
	SSFIssuer string `env:"AUTHD_SSF_ISSUER"`
	// SSFSigningAlg signs SETs: RS256 (a 2048-bit RSA key) or EdDSA.
	SSFSigningAlg string `env:"AUTHD_SSF_SIGNING_ALG" envDefault:"RS256"`
	// SSFPollWait is how long a poll without returnImmediately waits.
	SSFPollWait time.Duration `env:"AUTHD_SSF_POLL_WAIT" envDefault:"5s"`
}

// validateSSF checks the SSF settings.
func (c *Config) validateSSF(bad func(name, format string, args ...any)) {
	switch c.SSFSigningAlg {
	case "RS256", "EdDSA":
	default:
		bad("AUTHD_SSF_SIGNING_ALG", "must be RS256 or EdDSA, not %q", c.SSFSigningAlg)
	}
	if c.SSFPollWait < 0 || c.SSFPollWait > 30*time.Second {
		bad("AUTHD_SSF_POLL_WAIT", "must be a duration from 0s to 30s")
	}
	if c.SSFIssuer == "" {
		return
	}
	u, err := url.Parse(c.SSFIssuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		bad("AUTHD_SSF_ISSUER", "must be an absolute URL such as https://auth.example.com")
	case u.Path != "" && u.Path != "/":
		bad("AUTHD_SSF_ISSUER", "must have no path: /.well-known/ssf-configuration is served at its root")
	case c.Env == "production" && u.Scheme != "https":
		bad("AUTHD_SSF_ISSUER", "must be https in production")
	}
}
