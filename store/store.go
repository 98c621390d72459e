// Package store defines the storage contract of Basalt: one Store
// interface that every driver (store/sqlite, store/postgres) implements and
// that store/storetest checks. Every write appends its event to the event
// log in the same transaction as the change.
//
// Tenancy: every method on tenant-scoped data takes a TenantID and the
// driver adds the tenant predicate to every statement; a driver refuses to
// run such a method without one.
//
// Errors: drivers return *basalt.Error with CodeNotFound for a missing
// row (never nil, nil), CodeConflict for a taken unique value and
// CodePreconditionFailed for a stale version; anything else is an internal
// error wrapped with the operation that failed.
package store

import (
	"context"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
)

// Store is the storage of one Basalt deployment.
type Store interface {
	// Dialect is the SQL dialect filters are compiled for.
	Dialect() filter.Dialect
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database; writes in flight finish first.
	Close() error

	// Migrate applies Basalt's pending system migrations under a lock, so
	// that nodes starting together apply each migration once.
	Migrate(ctx context.Context) error
	// MigrationStatus lists every known migration and when it was applied.
	MigrationStatus(ctx context.Context) ([]MigrationStatus, error)

	// CollectionList returns every collection, ordered by name.
	CollectionList(ctx context.Context) ([]*basalt.Collection, error)
	// CollectionCreate creates the collection's table and indexes and
	// records its definition, and the audit entry if not nil, in one
	// transaction. CodeConflict if the name is taken.
	CollectionCreate(ctx context.Context, c *basalt.Collection, audit *AuditEntry) error
	// CollectionUpdate changes a collection from p.Old to p.New, keeping
	// the data of every field that survives. CodeNotFound, CodeConflict
	// (a new unique index over duplicate values).
	CollectionUpdate(ctx context.Context, p *CollectionUpdateParams) error
	// CollectionDelete drops the collection and all its records, and
	// writes the audit entry if not nil. CodeNotFound.
	CollectionDelete(ctx context.Context, name string, audit *AuditEntry) error

	// RecordInsert stores a new record and appends its create event.
	// CodeConflict if the id or a unique value is taken.
	RecordInsert(ctx context.Context, p *RecordInsertParams) (*basalt.Event, error)
	// RecordGet returns one record. CodeNotFound.
	RecordGet(ctx context.Context, p *RecordGetParams) (*basalt.Record, error)
	// RecordUpdate sets the given values, bumps the version and appends the
	// update event. CodeNotFound, CodePreconditionFailed, CodeConflict.
	RecordUpdate(ctx context.Context, p *RecordUpdateParams) (*basalt.Record, *basalt.Event, error)
	// RecordDelete removes one record and appends its delete event, whose
	// record is the record as it was. CodeNotFound, CodePreconditionFailed.
	RecordDelete(ctx context.Context, p *RecordDeleteParams) (*basalt.Event, error)
	// RecordList returns up to p.Limit records matching p.Filter in p.Sort
	// order, after the keyset position p.After.
	RecordList(ctx context.Context, p *RecordListParams) ([]*basalt.Record, error)
	// RecordCount returns how many records match p.Filter.
	RecordCount(ctx context.Context, p *RecordCountParams) (int64, error)

	// EventList returns events after p.After in position order. It returns
	// only settled events: once a position has been returned, no event
	// with a lower position can appear later.
	EventList(ctx context.Context, p *EventListParams) ([]basalt.Event, error)
	// EventHead returns the highest settled position (0 for an empty log):
	// where a consumer that wants only new events starts.
	EventHead(ctx context.Context) (int64, error)

	// KeyInsert stores an API key. CodeConflict if its ID is taken.
	KeyInsert(ctx context.Context, k *Key) error
	// KeyGet returns the API key with the given public ID. CodeNotFound.
	KeyGet(ctx context.Context, id string) (*Key, error)
	// KeyList lists a tenant's keys, newest first.
	KeyList(ctx context.Context, tenant string) ([]Key, error)
	// KeyRevoke revokes a tenant's key. CodeNotFound.
	KeyRevoke(ctx context.Context, tenant, id string, at time.Time, a *AuditEntry) error

	Identity
	Cursors
	Presence
	RateLimits
	Usage
}

// MigrationStatus describes one system migration.
type MigrationStatus struct {
	Version int
	Name    string
	Applied time.Time // zero if pending
}

// CollectionUpdateParams describes a change of definition. Renames maps
// old field names to new ones; New uses the new names. A field in Old and
// not in New (after renames) is dropped with its data.
type CollectionUpdateParams struct {
	Old     *basalt.Collection
	New     *basalt.Collection
	Renames map[string]string
	Audit   *AuditEntry // written with the change when not nil
}

// RecordInsertParams is a record to create.
type RecordInsertParams struct {
	TenantID   string
	Collection *basalt.Collection
	Record     *basalt.Record
	// Quota, if not nil, bounds the tenant's records and bytes after the
	// insert (CodeQuotaExceeded).
	Quota *Quota
}

// RecordGetParams names one record.
type RecordGetParams struct {
	TenantID   string
	Collection *basalt.Collection
	ID         string
	// Filter, if not nil, is a bound, checked condition the record must
	// meet (an access rule); a record that does not is not found.
	Filter filter.Expr
}

// Match applies the read's condition to a record held in memory, which
// selects exactly what the SQL would (the filter's differential tests):
// r, or not found.
func (p *RecordGetParams) Match(r *basalt.Record) (*basalt.Record, error) {
	if p.Filter == nil {
		return r, nil
	}
	ok, err := filter.Eval(p.Filter, p.Collection, r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, basalt.Errorf(basalt.CodeNotFound, "No record %q in %s.", p.ID, p.Collection.Name)
	}
	return r, nil
}

// RecordUpdateParams describes a partial update. Values holds only the
// fields to change; a nil value sets null.
type RecordUpdateParams struct {
	TenantID   string
	Collection *basalt.Collection
	ID         string
	Values     map[string]any
	Updated    time.Time
	// IfMatch, when set, makes the update conditional on the record's
	// current version (CodePreconditionFailed otherwise).
	IfMatch *Version
	// Filter, if not nil, is a condition the record must meet before the
	// change (an access rule); a record that does not is not found.
	Filter filter.Expr
	// Check, if not nil, sees the record after the change, inside the
	// transaction: an error undoes the change and is returned.
	Check func(*basalt.Record) error
	// Quota, if not nil, bounds the tenant's bytes after an update that
	// grows the record (CodeQuotaExceeded).
	Quota *Quota
}

// RecordDeleteParams names a record to delete.
type RecordDeleteParams struct {
	TenantID   string
	Collection *basalt.Collection
	ID         string
	IfMatch    *Version
	// Filter, if not nil, is a condition the record must meet (an access
	// rule); a record that does not is not found.
	Filter filter.Expr
}

// Version identifies one state of a record: its write count and the time
// of its last write. The pair stays unique even when a record is deleted
// and created again with the same id.
type Version struct {
	Version int64
	Updated time.Time
}

// RecordListParams describes one page of a list.
type RecordListParams struct {
	TenantID   string
	Collection *basalt.Collection
	// Filter, if not nil, is a bound, checked filter expression.
	Filter filter.Expr
	// Sort is the order; the driver appends the id as the final key, in
	// the direction of the last key, so the order is total.
	Sort []filter.SortField
	// After, if not nil, is the keyset position to continue from: the
	// values of the Sort fields of the last record seen, then its id.
	After []any
	Limit int
}

// RecordCountParams selects the records to count.
type RecordCountParams struct {
	TenantID   string
	Collection *basalt.Collection
	// Filter, if not nil, is a bound, checked filter expression.
	Filter filter.Expr
}

// EventListParams selects events to read.
type EventListParams struct {
	// TenantID selects one tenant's events; AllTenants reads every
	// tenant's, for internal consumers.
	TenantID   string
	AllTenants bool
	After      int64
	Limit      int
}

// Key is a stored API key. The secret is never stored: Hash is its
// SHA-256, compared in constant time.
type Key struct {
	ID       string // public, unique; the key's prefix, safe to log
	TenantID string
	Name     string
	Role     basalt.Role
	// Scopes narrow what the key may do within its role; none means all
	// of the role.
	Scopes  []string
	Hash    []byte
	Created time.Time
	Expires time.Time // zero: never
	Revoked time.Time // zero: live
}

// SortKeys returns the sort with the id tie-break appended: the full key
// of a keyset position.
func SortKeys(sort []filter.SortField) []filter.SortField {
	desc := false
	for _, s := range sort {
		if s.Field == "id" {
			return sort
		}
		desc = s.Desc
	}
	keys := make([]filter.SortField, len(sort), len(sort)+1)
	copy(keys, sort)
	return append(keys, filter.SortField{Field: "id", Desc: desc})
}

// Explainer is implemented by drivers that can show the query plan of a
// list, so tests can prove that filters and sorts use indexes.
type Explainer interface {
	ExplainList(ctx context.Context, p *RecordListParams) (string, error)
}

// Analyzer is implemented by drivers whose planner needs fresh statistics
// of a collection's table after a bulk load.
type Analyzer interface {
	Analyze(ctx context.Context, collection string) error
}
