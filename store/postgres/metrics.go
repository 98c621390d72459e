package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports the pool's statistics, read at scrape time.
type poolCollector struct {
	pool                                      *pgxpool.Pool
	total, idle, inUse, max, acquires, waited *prometheus.Desc
	waitSeconds                               *prometheus.Desc
}

// NewPoolCollector returns a collector of pool's statistics.
func NewPoolCollector(pool *pgxpool.Pool) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("basalt_postgres_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:        pool,
		total:       d("connections", "Open connections."),
		idle:        d("idle_connections", "Idle connections."),
		inUse:       d("in_use_connections", "Connections in use."),
		max:         d("max_connections", "Maximum pool size."),
		acquires:    d("acquires_total", "Connections acquired from the pool."),
		waited:      d("waits_total", "Acquires that had to wait for a connection."),
		waitSeconds: d("wait_seconds_total", "Time spent waiting for a connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.inUse, c.max, c.acquires, c.waited, c.waitSeconds} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
