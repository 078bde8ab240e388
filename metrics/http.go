package metrics

import "github.com/prometheus/client_golang/prometheus"

// HTTP metrics.
var (
	// RequestDuration observes every request by route template (never the
	// raw path, whose ids would explode the label set), method and status.
	RequestDuration = histogramVec(prometheus.HistogramOpts{
		Name:    "authd_http_request_duration_seconds",
		Help:    "HTTP request latency by route, method and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, "route", "method", "status")
)
