package sqlstore

import (
	"context"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/store"
)

// RateLimits implements store.RateLimits on a dbq.DB.
type RateLimits struct {
	db  dbq.DB
	now func() time.Time
}

var _ store.RateLimits = (*RateLimits)(nil)

// NewRateLimits returns the rate-limit policy storage on db.
func NewRateLimits(db dbq.DB) *RateLimits { return &RateLimits{db: db, now: time.Now} }

// RateLimitList implements store.RateLimits.
func (s *RateLimits) RateLimitList(ctx context.Context) ([]store.RateLimit, error) {
	rows, err := s.db.Query(ctx, `SELECT name, key_by, route_class, quota, window_seconds, burst, updated FROM _rate_limits ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list rate limits: %w", err)
	}
	defer rows.Close()
	var out []store.RateLimit
	for rows.Next() {
		var r store.RateLimit
		var quota, window, burst int64
		if err := rows.Scan(&r.Name, &r.By, &r.Class, &quota, &window, &burst, dbq.TimeDest{T: &r.Updated}); err != nil {
			return nil, fmt.Errorf("sqlstore: list rate limits: %w", err)
		}
		r.Quota, r.Window, r.Burst = int(quota), time.Duration(window)*time.Second, int(burst)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RateLimitPut implements store.RateLimits.
func (s *RateLimits) RateLimitPut(ctx context.Context, r *store.RateLimit) error {
	if r.Updated.IsZero() {
		r.Updated = s.now().UTC()
	}
	_, err := s.db.Exec(ctx, `INSERT INTO _rate_limits (name, key_by, route_class, quota, window_seconds, burst, updated) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET key_by = excluded.key_by, route_class = excluded.route_class, quota = excluded.quota,
		window_seconds = excluded.window_seconds, burst = excluded.burst, updated = excluded.updated`,
		r.Name, r.By, r.Class, int64(r.Quota), int64(r.Window/time.Second), int64(r.Burst), dbq.Time(s.db.Dialect(), r.Updated))
	if err != nil {
		return fmt.Errorf("sqlstore: put rate limit %s: %w", r.Name, err)
	}
	return nil
}

// RateLimitDelete implements store.RateLimits.
func (s *RateLimits) RateLimitDelete(ctx context.Context, name string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM _rate_limits WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("sqlstore: delete rate limit %s: %w", name, err)
	}
	if n == 0 {
		return basalt.Errorf(basalt.CodeNotFound, "No stored rate-limit policy %q.", name)
	}
	return nil
}
