package app

import (
	"math"
	"net/url"
	"time"
)

// validateOutbox checks the settings of the outbox, the webhooks and the
// new-device e-mails.
func (c *Config) validateOutbox(bad func(name, format string, args ...any)) {
	if c.OutboxWorkers < 1 || c.OutboxWorkers > 1000 {
		bad("AUTHD_OUTBOX_WORKERS", "must be between 1 and 1000")
	}
	if c.OutboxRescueAfter < 2*time.Second {
		bad("AUTHD_OUTBOX_RESCUE_AFTER", "must be at least 2s")
	}
	// A job waits for its token in its worker slot, at most
	// AUTHD_OUTBOX_WORKERS/AUTHD_OUTBOX_RATE, and may then run for half
	// the rescue time: the wait must fit in the other half, or River
	// would take a waiting job for a dead one.
	if math.IsNaN(c.OutboxRate) || c.OutboxRate < 0 || c.OutboxRate > 1e6 {
		bad("AUTHD_OUTBOX_RATE", "must be a number of deliveries per second between 0 (no bound) and 1000000")
	} else if c.OutboxRate > 0 && float64(c.OutboxWorkers)/c.OutboxRate > (c.OutboxRescueAfter/2).Seconds() {
		bad("AUTHD_OUTBOX_RATE", "must be 0 (no bound) or at least AUTHD_OUTBOX_WORKERS per half of AUTHD_OUTBOX_RESCUE_AFTER (%.3g/s)",
			float64(c.OutboxWorkers)/(c.OutboxRescueAfter/2).Seconds())
	}
	if c.WebhookTimeout < 100*time.Millisecond {
		bad("AUTHD_WEBHOOK_TIMEOUT", "must be at least 100ms")
	}
	if c.WebhookRetryBase < 10*time.Millisecond || c.WebhookRetryBase > time.Hour {
		bad("AUTHD_WEBHOOK_RETRY_BASE", "must be between 10ms and 1h")
	}
	if c.NewDeviceWindow < time.Hour {
		bad("AUTHD_NEW_DEVICE_WINDOW", "must be at least 1h")
	}
	if c.SMTPURL != "" {
		u, err := url.Parse(c.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			bad("AUTHD_SMTP_URL", "must be smtp://[user:password@]host[:port] or smtps://…")
		}
		if c.SMTPFrom == "" {
			bad("AUTHD_SMTP_FROM", "is required with AUTHD_SMTP_URL")
		}
		if c.PublicURL == "" {
			bad("AUTHD_PUBLIC_URL", "is required with AUTHD_SMTP_URL (the e-mails link to its /account page)")
		}
	}
	// AUTHD_PUBLIC_URL's own form is checked with the DPoP settings.
}

// webhookJobTimeout is the time one delivery attempt may take: the
// receiver's timeout, within half of the rescue time so that a live
// attempt is never taken for a dead one.
func (c Config) webhookJobTimeout() time.Duration {
	return min(c.WebhookTimeout, c.OutboxRescueAfter/2-500*time.Millisecond)
}
