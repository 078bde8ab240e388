package metrics

import "github.com/prometheus/client_golang/prometheus"

// Token lifecycle metrics.
var (
	// Logins counts login attempts by result (succeeded, failed, rate_limited, overloaded, error).
	Logins = factory().counterVec(prometheus.CounterOpts{
		Name: "authd_logins_total", Help: "Login attempts by result.",
	}, "result")
	// Refreshes counts refresh attempts by result (rotated, retried, invalid, expired, reused, revoked, proof_failed, error).
	Refreshes = factory().counterVec(prometheus.CounterOpts{
		Name: "authd_refreshes_total", Help: "Refresh-token presentations by result.",
	}, "result")
	// ReuseDetections counts families revoked because a rotated token came back.
	ReuseDetections = factory().counter(prometheus.CounterOpts{
		Name: "authd_refresh_reuse_detected_total", Help: "Refresh-token families revoked for reuse.",
	})
	// Revocations counts revoked sessions by reason.
	Revocations = factory().counterVec(prometheus.CounterOpts{
		Name: "authd_sessions_revoked_total", Help: "Sessions revoked, by reason.",
	}, "reason")
	// BcryptRuns counts bcrypt operations started.
	BcryptRuns = factory().counter(prometheus.CounterOpts{
		Name: "authd_bcrypt_runs_total", Help: "bcrypt hash and compare operations started.",
	})
)
