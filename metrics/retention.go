package metrics

import "github.com/prometheus/client_golang/prometheus"

// Retention metrics.
var (
	// RetentionDeleted counts rows the retention job deleted, by table.
	RetentionDeleted = factory().counterVec(prometheus.CounterOpts{
		Name: "authd_retention_deleted_total", Help: "Rows deleted by the retention job, by table.",
	}, "table")
	// SecurityEvents counts security events recorded, by type and reason.
	SecurityEvents = factory().counterVec(prometheus.CounterOpts{
		Name: "authd_security_events_total", Help: "Security events recorded, by type and reason.",
	}, "type", "reason")
)
