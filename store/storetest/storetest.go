// Package storetest is the conformance suite of store drivers: every
// driver runs the same cases from its own test (see store/sqlite and
// store/postgres), so the drivers cannot drift apart.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// Opener opens a store on one database. Every call opens another store
// on the same database, as another node would.
type Opener func(t *testing.T) store.Store

// Run runs the suite. newDB returns an Opener on a fresh, empty database.
func Run(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, newDB(t)) })
	t.Run("Collections", func(t *testing.T) { testCollections(t, newDB) })
	t.Run("Records", func(t *testing.T) { testRecords(t, newDB) })
	t.Run("Tenancy", func(t *testing.T) { testTenancy(t, newDB) })
	t.Run("List", func(t *testing.T) { testList(t, newDB) })
	t.Run("Explain", func(t *testing.T) { testExplain(t, newDB) })
	t.Run("Events", func(t *testing.T) { testEvents(t, newDB) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, newDB) })
	t.Run("Cursors", func(t *testing.T) { testCursors(t, newDB) })
	t.Run("Presence", func(t *testing.T) { testPresence(t, newDB) })
	t.Run("Usage", func(t *testing.T) { testUsage(t, newDB) })
	t.Run("RateLimits", func(t *testing.T) { testRateLimits(t, newDB) })
	t.Run("Identity", func(t *testing.T) { testIdentity(t, newDB) })
	t.Run("Tenants", func(t *testing.T) { testTenants(t, newDB) })
	t.Run("RulesSQLMatchesEval", func(t *testing.T) { testRulesDifferential(t, newDB) })
}

// open opens a migrated store on a fresh database.
func open(t *testing.T, newDB func(t *testing.T) Opener) store.Store {
	t.Helper()
	s := newDB(t)(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	return s
}

// twoNodes opens two stores on the database of o, as two nodes would,
// and migrates it.
func twoNodes(t *testing.T, o Opener) (a, b store.Store) {
	t.Helper()
	a = o(t)
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	return a, o(t)
}

// testNow is the clock of records made by the suite.
var testNow = time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)

// postsDef is the collection most cases use: every field type, a unique
// field and an index.
func postsDef() *basalt.Collection {
	c := &basalt.Collection{
		Name: "posts",
		Fields: []basalt.Field{
			{Name: "title", Type: basalt.TypeText, Required: true},
			{Name: "slug", Type: basalt.TypeText, Unique: true},
			{Name: "views", Type: basalt.TypeNumber},
			{Name: "draft", Type: basalt.TypeBool},
			{Name: "published", Type: basalt.TypeDate},
			{Name: "meta", Type: basalt.TypeJSON},
			{Name: "order", Type: basalt.TypeText}, // an SQL keyword as a name
		},
		Indexes: []basalt.Index{{Fields: []string{"views"}}},
		Created: testNow, Updated: testNow,
	}
	c.Normalize()
	return c
}

// MustCollection creates c and fails the test on error.
func MustCollection(t testing.TB, s store.Store, c *basalt.Collection) *basalt.Collection {
	t.Helper()
	c.Normalize()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(%s) = %v", c.Name, err)
	}
	if err := s.CollectionCreate(context.Background(), c, nil); err != nil {
		t.Fatalf("CollectionCreate(%s) = %v", c.Name, err)
	}
	return c
}

// NewRecord returns a record with the given id and values, version 1.
func NewRecord(id string, data map[string]any) *basalt.Record {
	if data == nil {
		data = map[string]any{}
	}
	return &basalt.Record{ID: id, Created: testNow, Updated: testNow, Version: 1, Data: data}
}

// MustInsert stores r in the tenant's collection c.
func MustInsert(t testing.TB, s store.Store, tenant string, c *basalt.Collection, r *basalt.Record) *basalt.Event {
	t.Helper()
	e, err := s.RecordInsert(context.Background(), &store.RecordInsertParams{TenantID: tenant, Collection: c, Record: r})
	if err != nil {
		t.Fatalf("RecordInsert(%s/%s) = %v", c.Name, r.ID, err)
	}
	return e
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, what string, err error, code basalt.Code) {
	t.Helper()
	if got := basalt.ErrorCode(err); got != code {
		t.Fatalf("%s: error code = %q (%v), want %q", what, got, err, code)
	}
}

// recordJSON is a record as clients see it, for comparisons.
func recordJSON(c *basalt.Collection, r *basalt.Record) string {
	return string(basalt.AppendRecordJSON(nil, c, r, nil))
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint("storetest: ", err))
	}
	return b
}

func asError(err error, target **basalt.Error) bool { return errors.As(err, target) }
