package app

import (
	"strings"
	"testing"
)

func TestLoad_MemoryLimit(t *testing.T) {
	cfg, err := Load(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MemoryLimit != 32<<20 {
		t.Errorf("default AUTHD_MEMORY_LIMIT = %d, want 32 MiB", cfg.MemoryLimit)
	}
	for value, want := range map[string]ByteSize{"0": 0, "64MiB": 64 << 20, "1GiB": 1 << 30, "20000000": 20000000, "40000KiB": 40000 << 10} {
		cfg, err := Load(envOf(map[string]string{"AUTHD_MEMORY_LIMIT": value}))
		if err != nil || cfg.MemoryLimit != want {
			t.Errorf("AUTHD_MEMORY_LIMIT=%s: %d, %v; want %d", value, cfg.MemoryLimit, err, want)
		}
	}
	for _, value := range []string{"lots", "32MB", "-1", "1MiB", "15MiB", "1.5GiB"} {
		_, err := Load(envOf(map[string]string{"AUTHD_MEMORY_LIMIT": value}))
		if err == nil || !strings.Contains(err.Error(), "AUTHD_MEMORY_LIMIT") {
			t.Errorf("AUTHD_MEMORY_LIMIT=%s: error %v, want one naming the variable", value, err)
		}
	}
}
