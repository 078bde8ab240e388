package app

import (
	"strings"
	"testing"
)

func TestLoad_OutboxRate(t *testing.T) {
	cfg, err := Load(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OutboxRate != 50 {
		t.Errorf("default AUTHD_OUTBOX_RATE = %v, want 50", cfg.OutboxRate)
	}
	for _, v := range []string{"0", "0.7", "2.5", "1000000"} {
		if _, err := Load(envOf(map[string]string{"AUTHD_OUTBOX_RATE": v})); err != nil {
			t.Errorf("AUTHD_OUTBOX_RATE=%s: %v", v, err)
		}
	}
	bad := []map[string]string{
		{"AUTHD_OUTBOX_RATE": "fast"},
		{"AUTHD_OUTBOX_RATE": "-1"},
		{"AUTHD_OUTBOX_RATE": "NaN"},
		{"AUTHD_OUTBOX_RATE": "2000000"},
		// 20 workers would wait up to 40 s for their turn, more than the
		// 30 s left of the default 1 m rescue time.
		{"AUTHD_OUTBOX_RATE": "0.5"},
		{"AUTHD_OUTBOX_RATE": "5", "AUTHD_OUTBOX_WORKERS": "200"},
	}
	for _, env := range bad {
		if _, err := Load(envOf(env)); err == nil || !strings.Contains(err.Error(), "AUTHD_OUTBOX_RATE") {
			t.Errorf("Load(%v) error = %v, want one naming AUTHD_OUTBOX_RATE", env, err)
		}
	}
}
