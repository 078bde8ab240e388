package services_test

import (
	"context"
	"testing"

	"github.com/authd/authd/internal/netguard"
	"github.com/authd/authd/services"
)

// SSRF at registration, in production: only https, and no host that is or
// resolves to a loopback, link-local, private or unspecified address.
func TestWebhooks_URLsRefusedInProduction(t *testing.T) {
	ctx := context.Background()
	prod := services.NewWebhooks(nil, services.WebhookConfig{Production: true, CheckHost: netguard.Guard{}.CheckHost}, nil, services.SystemClock)
	for _, u := range []string{
		"https://127.0.0.1/hook", "https://[::1]/hook", "https://169.254.169.254/latest/meta-data/",
		"https://10.0.0.1/hook", "https://10.200.3.4:8443/hook", "https://localhost/hook",
		"https://[::ffff:127.0.0.1]/hook", "https://0.0.0.0/hook",
		"http://example.com/hook", "ftp://example.com/hook", "https://user:pw@example.com/hook", "/relative",
	} {
		if err := prod.CheckURL(ctx, u); services.ErrorCode(err) != services.CodeInvalidRequest {
			t.Errorf("CheckURL(%s) in production = %v, want invalid_request", u, err)
		}
	}
	dev := services.NewWebhooks(nil, services.WebhookConfig{AllowPrivate: true}, nil, services.SystemClock)
	for _, u := range []string{"http://127.0.0.1:8080/hook", "https://localhost/hook"} {
		if err := dev.CheckURL(ctx, u); err != nil {
			t.Errorf("CheckURL(%s) with AUTHD_WEBHOOK_ALLOW_PRIVATE = %v, want nil", u, err)
		}
	}
	prodPrivate := services.NewWebhooks(nil, services.WebhookConfig{Production: true, AllowPrivate: true}, nil, services.SystemClock)
	if err := prodPrivate.CheckURL(ctx, "http://127.0.0.1/hook"); err == nil {
		t.Error("http accepted in production with AUTHD_WEBHOOK_ALLOW_PRIVATE")
	}
}
