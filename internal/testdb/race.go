//go:build race

package testdb

// RaceEnabled reports whether the race detector is on. It slows bcrypt
// down by an order of magnitude, so tests that time logins pick lower
// costs under it (they compare ratios, which it slows alike).
const RaceEnabled = true
