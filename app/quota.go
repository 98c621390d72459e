package app

import (
	"context"
	"errors"
	"time"

	"basalt.dev/basalt/quota"
	"github.com/prometheus/client_golang/prometheus"
)

// newQuotas makes the quota service with the configured defaults, reads
// the operator's overrides, holds the records service to it and exports
// its metrics. Run it with Run.
func (a *App) newQuotas(ctx context.Context) (*quota.Service, error) {
	q := quota.New(a.store, quota.Limits{RequestsDay: a.cfg.QuotaRequestsDay, RequestsMonth: a.cfg.QuotaRequestsMonth,
		Records: a.cfg.QuotaRecords, Bytes: a.cfg.QuotaBytes}, nil, a.log)
	if err := q.Load(ctx); err != nil {
		return nil, err
	}
	q.Managers = a.newTenants()
	a.records.Quotas = q
	a.reg.MustRegister(quotaCollector{q})
	return q, nil
}

func (c Config) validateQuotas() []error {
	var errs []error
	if c.QuotaRequestsDay < 0 || c.QuotaRequestsMonth < 0 || c.QuotaRecords < 0 || c.QuotaBytes < 0 {
		errs = append(errs, errors.New("--quota-requests-day, --quota-requests-month, --quota-records, --quota-bytes: must be 0 (unlimited) or more"))
	}
	if c.QuotaFlush < 100*time.Millisecond || c.QuotaFlush > time.Minute {
		errs = append(errs, errors.New("--quota-flush: between 100ms and 1m"))
	}
	return errs
}

// quotaCollector exports the quota metrics. None has a tenant label: with
// many tenants that would be a series per tenant, so per-tenant numbers
// are read from GET /api/tenants/{id}/usage instead.
type quotaCollector struct{ q *quota.Service }

var (
	quotaCountedDesc = prometheus.NewDesc("basalt_quota_requests_counted_total",
		"Requests this server counted against tenants' request quotas.", nil, nil)
	quotaRefusedDesc = prometheus.NewDesc("basalt_quota_requests_refused_total",
		"Requests this server refused because their tenant was at a request quota, by the quota's period.", []string{"period"}, nil)
	quotaFlushesDesc = prometheus.NewDesc("basalt_quota_flushes_total",
		"Times this server added its counted requests to the shared totals, by result: ok or error.", []string{"result"}, nil)
	quotaUnflushedDesc = prometheus.NewDesc("basalt_quota_unflushed_requests",
		"Requests this server counted that are not yet in the shared totals.", nil, nil)
	quotaTenantsDesc = prometheus.NewDesc("basalt_quota_tenants_counted",
		"Tenants whose requests this server counted on the current UTC day.", nil, nil)
	usageRecordsDesc = prometheus.NewDesc("basalt_usage_records",
		"Records of every tenant together, as counted for the records quotas.", nil, nil)
	usageBytesDesc = prometheus.NewDesc("basalt_usage_bytes",
		"Stored bytes of every tenant's records together, as counted for the bytes quotas.", nil, nil)
)

func (c quotaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{quotaCountedDesc, quotaRefusedDesc, quotaFlushesDesc, quotaUnflushedDesc, quotaTenantsDesc, usageRecordsDesc, usageBytesDesc} {
		ch <- d
	}
}

func (c quotaCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.q.Stats()
	ch <- prometheus.MustNewConstMetric(quotaCountedDesc, prometheus.CounterValue, float64(st.Counted))
	ch <- prometheus.MustNewConstMetric(quotaRefusedDesc, prometheus.CounterValue, float64(st.RefusedDay), "day")
	ch <- prometheus.MustNewConstMetric(quotaRefusedDesc, prometheus.CounterValue, float64(st.RefusedMonth), "month")
	ch <- prometheus.MustNewConstMetric(quotaFlushesDesc, prometheus.CounterValue, float64(st.Flushes), "ok")
	ch <- prometheus.MustNewConstMetric(quotaFlushesDesc, prometheus.CounterValue, float64(st.FlushErrors), "error")
	ch <- prometheus.MustNewConstMetric(quotaUnflushedDesc, prometheus.GaugeValue, float64(st.Unflushed))
	ch <- prometheus.MustNewConstMetric(quotaTenantsDesc, prometheus.GaugeValue, float64(st.Tenants))
	// One summing query per scrape; a scrape while the database is away
	// leaves the two totals out rather than failing.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if records, bytes, err := c.q.Totals(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(usageRecordsDesc, prometheus.GaugeValue, float64(records))
		ch <- prometheus.MustNewConstMetric(usageBytesDesc, prometheus.GaugeValue, float64(bytes))
	}
}
