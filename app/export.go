package app

import (
	"context"

	"basalt.dev/basalt/realtime/natsexport"
	"github.com/prometheus/client_golang/prometheus"
)

// startExport runs the export of the event log to NATS JetStream when
// --nats-url is set. Every node runs one; the one holding the cursor's
// lease exports, and the others stand by to take over.
func (a *App) startExport(ctx context.Context) {
	if a.cfg.NATSURL == "" {
		return
	}
	x := natsexport.New(a.store, natsexport.Config{URL: a.cfg.NATSURL, Stream: a.cfg.NATSStream, Prefix: a.cfg.NATSPrefix, Log: a.log})
	a.export = x
	a.reg.MustRegister(exportMetrics(x)...)
	a.bg.Go(func() { x.Run(ctx) })
}

// exportMetrics report the export on /metrics. Comparing the position
// with basalt_realtime_position shows how far JetStream is behind the
// log; during a NATS outage it stands still and events wait in the log.
func exportMetrics(x *natsexport.Exporter) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_nats_export_position", Help: "Last event log position JetStream acknowledged to this node's export."},
			func() float64 { return float64(x.Position()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_nats_export_leader", Help: "1 when this node holds the export's lease and exports, else 0."},
			func() float64 {
				if x.Leader() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "basalt_nats_export_published_total", Help: "Events this node published to JetStream."},
			func() float64 { return float64(x.Published()) }),
	}
}
