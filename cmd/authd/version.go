package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Release builds may name what they are through the linker
// (-ldflags "-X main.version=v1.2.0 -X main.commit=… -X main.buildDate=…",
// as the Dockerfile does, since a container build has no .git). Left empty,
// they come from the build information Go records in every binary.
var (
	version   string
	commit    string
	buildDate string
)

// buildVersion is what `authd version` reports.
type buildVersion struct {
	Version, Commit, Date, Go string
	Modified                  bool
}

// readVersion combines the linker's values with runtime/debug.ReadBuildInfo:
// the module version ("(devel)" for a build from a checkout, the tag for
// `go install …@v1.2.0`), the VCS revision and time that `go build` stamps
// from git (absent with -buildvcs=false), and the Go release.
func readVersion(info *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Version: version, Commit: commit, Date: buildDate, Go: runtime.Version()}
	if ok {
		if v.Version == "" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
		if info.GoVersion != "" {
			v.Go = info.GoVersion
		}
	}
	for _, f := range []*string{&v.Version, &v.Commit, &v.Date} {
		if *f == "" {
			*f = "unknown"
		}
	}
	return v
}

func printVersion(out io.Writer, v buildVersion) error {
	commit := v.Commit
	if v.Modified {
		commit += " (modified)"
	}
	_, err := fmt.Fprintf(out, "authd %s\ncommit: %s\ndate:   %s\ngo:     %s %s/%s\n",
		v.Version, commit, v.Date, v.Go, runtime.GOOS, runtime.GOARCH)
	return err
}
