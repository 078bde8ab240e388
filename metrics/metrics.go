// Package metrics holds authd's Prometheus metrics (prometheus/client_golang,
// the reference client). Each area of the code declares its metrics in its
// own file of this package on the shared Registry; /metrics serves it.
//
// It is a leaf package (it imports client_golang and nothing of authd), so
// every layer — middleware, services, the adapters under internal/platform —
// counts through it directly, as every layer uses models.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry is the registry /metrics serves. A registry of our own (not the
// global default) keeps test binaries and library metrics out of it.
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

// The constructors below make a metric and register it on Registry. Most
// metrics need only a name, a help text and their labels.

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	Registry.MustRegister(c)
	return c
}

func counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	Registry.MustRegister(c)
	return c
}

func gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	Registry.MustRegister(g)
	return g
}

func histogramVec(opts prometheus.HistogramOpts, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(opts, labels)
	Registry.MustRegister(h)
	return h
}
