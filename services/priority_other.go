//go:build !linux

package services

// lowerThreadPriority is a no-op where threads have no nice value of their
// own; the bound on concurrent bcrypt operations still applies.
func lowerThreadPriority(int) {}
