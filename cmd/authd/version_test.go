package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// `authd version` answers without configuration or a database, and names
// the Go release it was built with.
func TestRun_VersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"authd", "version"}, func(string) string { return "" }, nil, &out, &out); err != nil {
		t.Fatalf("authd version: %v", err)
	}
	got := out.String()
	for _, want := range []string{"authd ", "\ncommit: ", "\ndate:   ", "\ngo:     " + runtime.Version()} {
		if !strings.Contains(got, want) {
			t.Errorf("authd version printed %q, want it to contain %q", got, want)
		}
	}
}

func TestReadVersion(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/authd/authd", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name   string
		info   *debug.BuildInfo
		ok     bool
		linker [3]string // version, commit, buildDate
		want   buildVersion
	}{
		{"from build information", info, true, [3]string{},
			buildVersion{Version: "v1.4.0", Commit: "0123abcd", Date: "2026-12-01T10:00:00Z", Go: "go1.26.0", Modified: true}},
		{"the linker's values win", info, true, [3]string{"v2.0.0", "feedface", "2026-12-03"},
			buildVersion{Version: "v2.0.0", Commit: "feedface", Date: "2026-12-03", Go: "go1.26.0", Modified: true}},
		{"no build information", nil, false, [3]string{},
			buildVersion{Version: "unknown", Commit: "unknown", Date: "unknown", Go: runtime.Version()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version, commit, buildDate = tt.linker[0], tt.linker[1], tt.linker[2]
			t.Cleanup(func() { version, commit, buildDate = "", "", "" })
			if got := readVersion(tt.info, tt.ok); got != tt.want {
				t.Errorf("readVersion() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
