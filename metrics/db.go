package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// DBName is the db_name label of the pool figures.
const DBName = "authd"

// dbStats exports the connection-pool figures (sql.DBStats: open, in use,
// idle, waits) of the database pool most recently tracked, through the
// client library's DBStatsCollector. A process normally has one pool; tests
// start several instances in one process, and registering a collector per
// pool would clash on the metric names, so the pools take turns.
type dbStats struct {
	mu    sync.Mutex
	pools []*trackedPool
	desc  prometheus.Collector // describes the metrics; never collects
}

type trackedPool struct{ c prometheus.Collector }

var pools = &dbStats{desc: collectors.NewDBStatsCollector(nil, DBName)}

func init() { Registry.MustRegister(pools) }

func (d *dbStats) Describe(ch chan<- *prometheus.Desc) { d.desc.Describe(ch) }

func (d *dbStats) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	var cur *trackedPool
	if n := len(d.pools); n > 0 {
		cur = d.pools[n-1]
	}
	d.mu.Unlock()
	if cur != nil {
		cur.c.Collect(ch)
	}
}

// TrackDB exports the pool figures of a pool (go_sql_* with
// db_name="authd") until the returned func is called. stats is the pool's
// collectors.NewDBStatsCollector(db, DBName), built where the *sql.DB is
// (the wiring): this package knows Prometheus, not database/sql.
func TrackDB(stats prometheus.Collector) (untrack func()) {
	p := &trackedPool{c: stats}
	pools.mu.Lock()
	pools.pools = append(pools.pools, p)
	pools.mu.Unlock()
	return func() {
		pools.mu.Lock()
		defer pools.mu.Unlock()
		for i, q := range pools.pools {
			if q == p {
				pools.pools = append(pools.pools[:i], pools.pools[i+1:]...)
				return
			}
		}
	}
}
