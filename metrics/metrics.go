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

// factory registers new metrics on Registry.
func factory() registerer { return registerer{} }

type registerer struct{}

func (registerer) counterVec(opts prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(opts, labels)
	Registry.MustRegister(c)
	return c
}

func (registerer) counter(opts prometheus.CounterOpts) prometheus.Counter {
	c := prometheus.NewCounter(opts)
	Registry.MustRegister(c)
	return c
}

func (registerer) gauge(opts prometheus.GaugeOpts) prometheus.Gauge {
	g := prometheus.NewGauge(opts)
	Registry.MustRegister(g)
	return g
}

func (registerer) histogramVec(opts prometheus.HistogramOpts, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(opts, labels)
	Registry.MustRegister(h)
	return h
}
