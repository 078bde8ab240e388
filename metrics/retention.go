package metrics

// Retention metrics.
var (
	// RetentionDeleted counts rows the retention job deleted, by table.
	RetentionDeleted = counterVec("authd_retention_deleted_total", "Rows deleted by the retention job, by table.", "table")
	// SecurityEvents counts security events recorded, by type and reason.
	SecurityEvents = counterVec("authd_security_events_total", "Security events recorded, by type and reason.", "type", "reason")
)
