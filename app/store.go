package app

import (
	"context"

	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// openStore opens the store that cfg selects and registers its pool
// metrics on reg (if not nil).
func openStore(ctx context.Context, cfg Config, reg prometheus.Registerer) (store.Store, error) {
	if IsPostgresURL(cfg.DB) {
		return openPostgres(ctx, cfg, reg)
	}
	db, err := sqlite.Open(ctx, cfg.Data, sqlite.Options{Synchronous: cfg.SQLiteSync})
	if err != nil {
		return nil, err
	}
	if reg != nil {
		w, r := db.Pools()
		reg.MustRegister(collectors.NewDBStatsCollector(w, "sqlite_writer"), collectors.NewDBStatsCollector(r, "sqlite_readers"))
	}
	return db, nil
}
