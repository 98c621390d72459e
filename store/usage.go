package store

import (
	"context"
	"time"

	"basalt.dev/basalt"
)

// Usage is the storage of what each tenant uses and may use: its record
// and byte counts, kept exact by the record writes themselves (see
// Quota), the requests its nodes counted, and the quotas the operator set
// for it. Every table is tenant-scoped.
//
// A record's stored bytes are the bytes of its non-null field values:
// the UTF-8 length of a text and of a json value as stored, 8 for a
// number or a date, 1 for a bool. Ids, timestamps and field names do not
// count (the records quota bounds them), so adding or renaming a field
// changes no tenant's usage; a definition change that drops a field or
// fills values in counts the collection's records again in its
// transaction.
type Usage interface {
	// UsageGet returns a tenant's records and bytes, and the requests
	// counted for it on day's UTC day and in its UTC month.
	UsageGet(ctx context.Context, tenant string, day time.Time) (*TenantUsage, error)
	// UsageTotals returns the records and bytes of every tenant together.
	UsageTotals(ctx context.Context) (records, bytes int64, err error)

	// RequestsAdd adds counted requests to the shared totals.
	RequestsAdd(ctx context.Context, counts []RequestCount) error
	// RequestTotals returns, for each of tenants that has any, the
	// requests counted on day's UTC day and in its UTC month.
	RequestTotals(ctx context.Context, tenants []string, day time.Time) (map[string]RequestTotals, error)
	// RequestsPrune forgets the counts of days before before.
	RequestsPrune(ctx context.Context, before time.Time) error

	// QuotaList returns every tenant's quota overrides.
	QuotaList(ctx context.Context) ([]QuotaOverride, error)
	// QuotaPut replaces a tenant's overrides (all nil removes them) and
	// writes the audit entry if not nil, in one transaction.
	QuotaPut(ctx context.Context, o *QuotaOverride, a *AuditEntry) error
}

// Quota bounds what a record write may take a tenant to; zero is
// unlimited. A write that adds records or bytes and would end above a
// limit fails with CodeQuotaExceeded and leaves nothing behind: the check
// runs in the write's transaction, after its own change to the counts.
//
// On SQLite the single writer makes the check exact. On PostgreSQL the
// counts are sharded rows summed on read, so writers of one tenant do
// not wait for each other; writes of one tenant that commit at the same
// moment do not see each other's change, and each may pass: a tenant can
// end above its limit by the writes it had in flight at that moment.
type Quota struct {
	Records int64
	Bytes   int64
}

// TenantUsage is what a tenant uses.
type TenantUsage struct {
	TenantID      string
	Records       int64
	Bytes         int64
	RequestsDay   int64
	RequestsMonth int64
}

// RequestCount is a number of requests of a tenant on a UTC day.
type RequestCount struct {
	TenantID string
	Day      time.Time // the day's midnight, UTC
	Count    int64
}

// RequestTotals are a tenant's requests on a day and in its month.
type RequestTotals struct {
	Day   int64
	Month int64
}

// QuotaOverride is a tenant's own limits, set by the operator over the
// defaults of the configuration. A nil field keeps the default; zero is
// unlimited.
type QuotaOverride struct {
	TenantID      string
	RequestsDay   *int64
	RequestsMonth *int64
	Records       *int64
	Bytes         *int64
	Updated       time.Time
}

// Empty reports whether o overrides nothing.
func (o *QuotaOverride) Empty() bool {
	return o.RequestsDay == nil && o.RequestsMonth == nil && o.Records == nil && o.Bytes == nil
}

// DayOf returns the UTC day of t, as its midnight.
func DayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// QuotaExceeded is the error of a write refused by a records or bytes
// quota: what the quota is, what is used, and what the write would add.
func QuotaExceeded(tenant, quota string, limit, used, adding int64) error {
	return basalt.Errorf(basalt.CodeQuotaExceeded,
		"Tenant %q is at its %s quota: the limit is %d, %d are used and this write would add %d. Delete some first, or ask the operator to raise the quota.",
		tenant, quota, limit, used, adding)
}

// CheckQuota returns QuotaExceeded when a write that adds records and
// bytes takes a tenant from used to above q. Writes that add nothing (or
// free space) always pass, so a tenant over a lowered quota can still
// clean up.
func CheckQuota(tenant string, q *Quota, records, bytes int64, addRecords, addBytes int64) error {
	if q == nil {
		return nil
	}
	if q.Records > 0 && addRecords > 0 && records > q.Records {
		return QuotaExceeded(tenant, "records", q.Records, records-addRecords, addRecords)
	}
	if q.Bytes > 0 && addBytes > 0 && bytes > q.Bytes {
		return QuotaExceeded(tenant, "bytes", q.Bytes, bytes-addBytes, addBytes)
	}
	return nil
}
