package app

import (
	"context"

	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/postgres"
	"github.com/prometheus/client_golang/prometheus"
)

func openPostgres(ctx context.Context, cfg Config, reg prometheus.Registerer) (store.Store, error) {
	db, err := postgres.Open(ctx, cfg.DB, postgres.Options{MaxConns: int32(cfg.DBMaxConns)})
	if err != nil {
		return nil, err
	}
	if reg != nil {
		reg.MustRegister(postgres.NewPoolCollector(db.Pool()))
	}
	return db, nil
}
