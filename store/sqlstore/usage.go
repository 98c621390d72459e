package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
)

// TenantTx runs fn in a transaction acting for tenant, or for every
// tenant with "*": on PostgreSQL row-level security shows the usage
// tables' rows of that tenant only.
type TenantTx func(ctx context.Context, tenant string, fn func(dbq.Q) error) error

// Usage implements store.Usage on a dbq.DB.
type Usage struct {
	db   dbq.DB
	as   TenantTx // writes
	read TenantTx // reads
}

var _ store.Usage = (*Usage)(nil)

// NewUsage returns the usage storage on db: tx runs its writes, read its
// reads.
func NewUsage(db dbq.DB, tx, read TenantTx) *Usage { return &Usage{db: db, as: tx, read: read} }

// allTenants is the tenant setting of work across tenants.
const allTenants = "*"

// UsageAdd adds to the counts of a tenant's records and bytes in one
// collection, in the transaction of the record write that changed them.
// The counts are spread over shard rows picked by the caller, so that
// concurrent writers of one tenant rarely wait for the same row; readers
// sum them.
func UsageAdd(ctx context.Context, q dbq.Q, tenant, collection string, shard int, records, bytes int64) error {
	if records == 0 && bytes == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `INSERT INTO _usage (tenant_id, collection, shard, records, bytes) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, collection, shard) DO UPDATE SET records = _usage.records + excluded.records, bytes = _usage.bytes + excluded.bytes`,
		tenant, collection, int64(shard), records, bytes)
	if err != nil {
		return fmt.Errorf("sqlstore: count usage: %w", err)
	}
	return nil
}

// UsageCheck enforces quota on a write that added addRecords and
// addBytes, after UsageAdd in the same transaction: the sum it reads
// holds the write's own change.
func UsageCheck(ctx context.Context, q dbq.Q, tenant string, quota *store.Quota, addRecords, addBytes int64) error {
	if quota == nil || (quota.Records <= 0 || addRecords <= 0) && (quota.Bytes <= 0 || addBytes <= 0) {
		return nil
	}
	records, bytes, err := usageSum(ctx, q, tenant)
	if err != nil {
		return err
	}
	return store.CheckQuota(tenant, quota, records, bytes, addRecords, addBytes)
}

func usageSum(ctx context.Context, q dbq.Q, tenant string) (records, bytes int64, err error) {
	err = dbq.QueryRow(ctx, q, `SELECT CAST(coalesce(sum(records), 0) AS BIGINT), CAST(coalesce(sum(bytes), 0) AS BIGINT) FROM _usage WHERE tenant_id = ?`,
		[]any{tenant}, &records, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: read usage: %w", err)
	}
	return records, bytes, nil
}

// UsageDrop forgets the counts of a collection, dropped in the same
// transaction.
func UsageDrop(ctx context.Context, q dbq.Q, collection string) error {
	if _, err := q.Exec(ctx, `DELETE FROM _usage WHERE collection = ?`, collection); err != nil {
		return fmt.Errorf("sqlstore: drop usage of %s: %w", collection, err)
	}
	return nil
}

// UsageRecount counts the records and bytes of every tenant in c's table
// again, in a transaction that keeps other writers of the table out (the
// definition change that altered it, or the migration that made the
// usage tables), and replaces the collection's counts with them.
func UsageRecount(ctx context.Context, q dbq.Q, d filter.Dialect, c *basalt.Collection) error {
	if err := UsageDrop(ctx, q, c.Name); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `INSERT INTO _usage (tenant_id, collection, shard, records, bytes) `+sqlgen.CountUsage(d, c), c.Name); err != nil {
		return fmt.Errorf("sqlstore: count usage of %s: %w", c.Name, err)
	}
	return nil
}

// UsageGet implements store.Usage.
func (s *Usage) UsageGet(ctx context.Context, tenant string, day time.Time) (*store.TenantUsage, error) {
	u := &store.TenantUsage{TenantID: tenant}
	err := s.read(ctx, tenant, func(q dbq.Q) error {
		var err error
		if u.Records, u.Bytes, err = usageSum(ctx, q, tenant); err != nil {
			return err
		}
		totals, err := requestTotals(ctx, q, s.db, []string{tenant}, day)
		if err != nil {
			return err
		}
		u.RequestsDay, u.RequestsMonth = totals[tenant].Day, totals[tenant].Month
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UsageTotals implements store.Usage.
func (s *Usage) UsageTotals(ctx context.Context) (records, bytes int64, err error) {
	err = s.read(ctx, allTenants, func(q dbq.Q) error {
		return dbq.QueryRow(ctx, q, `SELECT CAST(coalesce(sum(records), 0) AS BIGINT), CAST(coalesce(sum(bytes), 0) AS BIGINT) FROM _usage`, nil, &records, &bytes)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: usage totals: %w", err)
	}
	return records, bytes, nil
}

// RequestsAdd implements store.Usage.
func (s *Usage) RequestsAdd(ctx context.Context, counts []store.RequestCount) error {
	if len(counts) == 0 {
		return nil
	}
	return s.as(ctx, allTenants, func(q dbq.Q) error {
		for _, c := range counts {
			_, err := q.Exec(ctx, `INSERT INTO _requests (tenant_id, day, count) VALUES (?, ?, ?)
				ON CONFLICT (tenant_id, day) DO UPDATE SET count = _requests.count + excluded.count`,
				c.TenantID, dayKey(c.Day), c.Count)
			if err != nil {
				return fmt.Errorf("sqlstore: add requests: %w", err)
			}
		}
		return nil
	})
}

// RequestTotals implements store.Usage.
func (s *Usage) RequestTotals(ctx context.Context, tenants []string, day time.Time) (map[string]store.RequestTotals, error) {
	var out map[string]store.RequestTotals
	err := s.read(ctx, allTenants, func(q dbq.Q) error {
		var err error
		out, err = requestTotals(ctx, q, s.db, tenants, day)
		return err
	})
	return out, err
}

// requestTotals reads the totals of tenants, a few hundred per query.
func requestTotals(ctx context.Context, q dbq.Q, db dbq.DB, tenants []string, day time.Time) (map[string]store.RequestTotals, error) {
	out := make(map[string]store.RequestTotals, len(tenants))
	today := store.DayOf(day)
	first := today.AddDate(0, 0, 1-today.Day())
	for len(tenants) > 0 {
		n := min(len(tenants), 500)
		batch := tenants[:n]
		tenants = tenants[n:]
		args := []any{dayKey(today), dayKey(first), dayKey(today)}
		in := ""
		for i, t := range batch {
			if i > 0 {
				in += ", "
			}
			in += "?"
			args = append(args, t)
		}
		rows, err := q.Query(ctx, `SELECT tenant_id, CAST(coalesce(sum(CASE WHEN day = ? THEN count ELSE 0 END), 0) AS BIGINT), CAST(coalesce(sum(count), 0) AS BIGINT)
			FROM _requests WHERE day >= ? AND day <= ? AND tenant_id IN (`+in+`) GROUP BY tenant_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read requests: %w", err)
		}
		for rows.Next() {
			var t string
			var r store.RequestTotals
			if err := rows.Scan(&t, &r.Day, &r.Month); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlstore: read requests: %w", err)
			}
			out[t] = r
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("sqlstore: read requests: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlstore: read requests: %w", err)
		}
	}
	return out, nil
}

// RequestsPrune implements store.Usage.
func (s *Usage) RequestsPrune(ctx context.Context, before time.Time) error {
	return s.as(ctx, allTenants, func(q dbq.Q) error {
		if _, err := q.Exec(ctx, `DELETE FROM _requests WHERE day < ?`, dayKey(store.DayOf(before))); err != nil {
			return fmt.Errorf("sqlstore: prune requests: %w", err)
		}
		return nil
	})
}

// dayKey is a day as the _requests table keeps it: text that sorts in
// time order in both databases.
func dayKey(t time.Time) string { return t.UTC().Format(time.DateOnly) }

const quotaColumns = `tenant_id, requests_day, requests_month, records, bytes, updated`

// QuotaList implements store.Usage.
func (s *Usage) QuotaList(ctx context.Context) ([]store.QuotaOverride, error) {
	var out []store.QuotaOverride
	err := s.read(ctx, allTenants, func(q dbq.Q) error {
		rows, err := q.Query(ctx, `SELECT `+quotaColumns+` FROM _quotas ORDER BY tenant_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o store.QuotaOverride
			var rd, rm, rec, b sql.NullInt64
			if err := rows.Scan(&o.TenantID, &rd, &rm, &rec, &b, dbq.TimeDest{T: &o.Updated}); err != nil {
				return err
			}
			o.RequestsDay, o.RequestsMonth, o.Records, o.Bytes = ptr(rd), ptr(rm), ptr(rec), ptr(b)
			out = append(out, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list quotas: %w", err)
	}
	return out, nil
}

func ptr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

// QuotaPut implements store.Usage.
func (s *Usage) QuotaPut(ctx context.Context, o *store.QuotaOverride, a *store.AuditEntry) error {
	if o.TenantID == "" {
		return errors.New("sqlstore: quota without a tenant")
	}
	return s.as(ctx, o.TenantID, func(q dbq.Q) error {
		if _, err := q.Exec(ctx, `DELETE FROM _quotas WHERE tenant_id = ?`, o.TenantID); err != nil {
			return fmt.Errorf("sqlstore: put quota: %w", err)
		}
		if !o.Empty() {
			_, err := q.Exec(ctx, `INSERT INTO _quotas (`+quotaColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
				o.TenantID, o.RequestsDay, o.RequestsMonth, o.Records, o.Bytes, dbq.Time(s.db.Dialect(), o.Updated))
			if err != nil {
				return fmt.Errorf("sqlstore: put quota: %w", err)
			}
		}
		return (&Identity{db: s.db}).appendAudit(ctx, q, a)
	})
}
