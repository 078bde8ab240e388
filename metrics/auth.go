package metrics

// Token lifecycle metrics.
var (
	// Logins counts login attempts by result (succeeded, failed, rate_limited, overloaded, error).
	Logins = counterVec("authd_logins_total", "Login attempts by result.", "result")
	// Refreshes counts refresh attempts by result (rotated, retried, invalid, expired, reused, revoked, proof_failed, error).
	Refreshes = counterVec("authd_refreshes_total", "Refresh-token presentations by result.", "result")
	// ReuseDetections counts families revoked because a rotated token came back.
	ReuseDetections = counter("authd_refresh_reuse_detected_total", "Refresh-token families revoked for reuse.")
	// Revocations counts revoked sessions by reason.
	Revocations = counterVec("authd_sessions_revoked_total", "Sessions revoked, by reason.", "reason")
	// BcryptRuns counts bcrypt operations started.
	BcryptRuns = counter("authd_bcrypt_runs_total", "bcrypt hash and compare operations started.")
)
