package app

import (
	"context"

	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// openStore opens the store that cfg selects and registers its pool
// metrics on reg (if not nil). A serving store keeps the record cache
// (SQLite only: it needs to be the file's only writer); the tools that
// open the store beside a running server do not.
func openStore(ctx context.Context, cfg Config, reg prometheus.Registerer, serving bool) (store.Store, error) {
	if IsPostgresURL(cfg.DB) {
		return openPostgres(ctx, cfg, reg)
	}
	opts := sqlite.Options{Synchronous: cfg.SQLiteSync}
	if serving {
		opts.RecordCache = cfg.CacheRecords
	}
	db, err := sqlite.Open(ctx, cfg.Data, opts)
	if err != nil {
		return nil, err
	}
	if reg != nil {
		w, r := db.Pools()
		reg.MustRegister(collectors.NewDBStatsCollector(w, "sqlite_writer"), collectors.NewDBStatsCollector(r, "sqlite_readers"))
	}
	return db, nil
}
