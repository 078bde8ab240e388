package metrics

// Revocation feed metrics: how the in-memory revoked-session set of this
// process is kept current (PostgreSQL LISTEN/NOTIFY).
var (
	// RevocationFallback is the number of revocation feeds of this process
	// that are disconnected and check sessions in the database on every
	// authenticated request (one feed per process, so 0 or 1 in service).
	RevocationFallback = gauge("authd_revocation_fallback", "1 while the revocation feed is disconnected and access tokens are checked against the database.")
	// RevocationReconnects counts connections of the feed after the first.
	RevocationReconnects = counter("authd_revocation_feed_reconnects_total", "Reconnections of the revocation feed (LISTEN) after it was lost.")
	// RevocationNotifications counts revoked-session notifications received.
	RevocationNotifications = counter("authd_revocation_notifications_total", "Revoked-session notifications received from any instance.")
)
