//go:build race

package testdb

// RaceEnabled reports whether the race detector is on. It slows bcrypt
// down by an order of magnitude, so tests that measure time skip under it
// (CI runs them in a separate run without -race).
const RaceEnabled = true
