package storetest

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

func testRecords(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, newDB)
		c := MustCollection(t, s, postsDef())
		values := []map[string]any{
			{"title": "héllo wörld ✓ 日本語 \"quoted\" \\ \n\t", "views": 1.5, "draft": true,
				"published": time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC), "meta": json.RawMessage(`{"a":[1,2,{"b":null}],"c":"d"}`), "order": "1"},
			{"title": "x", "views": math.MaxFloat64, "draft": false, "published": time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "meta": json.RawMessage(`[]`)},
			{"title": "y", "views": -math.SmallestNonzeroFloat64, "published": time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "meta": json.RawMessage(`"s"`)},
			{"title": "z", "views": 0.0, "meta": json.RawMessage(`12.5`)},
			{"title": "nulls"},
		}
		for i, v := range values {
			id := string(rune('a' + i))
			r := NewRecord(id, v)
			MustInsert(t, s, basalt.DefaultTenant, c, r)
			got, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: id})
			if err != nil {
				t.Fatalf("RecordGet(%s) = %v", id, err)
			}
			if recordJSON(c, got) != recordJSON(c, r) || got.Version != 1 {
				t.Errorf("RecordGet(%s) = %s (v%d)\nwant %s (v1)", id, recordJSON(c, got), got.Version, recordJSON(c, r))
			}
		}
	})
	t.Run("UpdateDelete", func(t *testing.T) {
		t.Parallel()
		testUpdateDelete(t, open(t, newDB))
	})
	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, newDB)
		c := MustCollection(t, s, postsDef())
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("a", map[string]any{"title": "t", "slug": "taken"}))
		_, err := s.RecordInsert(ctx, &store.RecordInsertParams{TenantID: basalt.DefaultTenant, Collection: c, Record: NewRecord("a", map[string]any{"title": "t"})})
		wantCode(t, "insert duplicate id", err, basalt.CodeConflict)
		_, err = s.RecordInsert(ctx, &store.RecordInsertParams{TenantID: basalt.DefaultTenant, Collection: c, Record: NewRecord("b", map[string]any{"title": "t", "slug": "taken"})})
		wantCode(t, "insert duplicate slug", err, basalt.CodeConflict)
		var e *basalt.Error
		if !asError(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "slug" {
			t.Errorf("duplicate slug error = %+v, want it to name the field slug", err)
		}
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("b", map[string]any{"title": "t", "slug": "free"}))
		_, _, err = s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: basalt.DefaultTenant, Collection: c, ID: "b", Values: map[string]any{"slug": "taken"}, Updated: testNow})
		wantCode(t, "update to a taken slug", err, basalt.CodeConflict)
		// Nulls never collide.
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("n1", map[string]any{"title": "t"}))
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("n2", map[string]any{"title": "t"}))
	})
}

func testUpdateDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	tenant := basalt.DefaultTenant
	c := MustCollection(t, s, postsDef())
	MustInsert(t, s, tenant, c, NewRecord("a", map[string]any{"title": "one", "views": 1.0, "draft": true}))
	later := testNow.Add(time.Second)
	rec, ev, err := s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: tenant, Collection: c, ID: "a",
		Values: map[string]any{"views": 2.0, "draft": nil}, Updated: later, IfMatch: &store.Version{Version: 1, Updated: testNow}})
	if err != nil {
		t.Fatalf("RecordUpdate() = %v", err)
	}
	want := &basalt.Record{ID: "a", Created: testNow, Updated: later, Version: 2, Data: map[string]any{"title": "one", "views": 2.0}}
	if recordJSON(c, rec) != recordJSON(c, want) || rec.Version != 2 {
		t.Errorf("RecordUpdate() = %s v%d, want %s v2", recordJSON(c, rec), rec.Version, recordJSON(c, want))
	}
	if ev.Op != basalt.OpUpdate || string(ev.Record) != recordJSON(c, want) || ev.RecordID != "a" || ev.Position == 0 {
		t.Errorf("update event = %+v", ev)
	}
	stale := &store.Version{Version: 1, Updated: testNow}
	_, _, err = s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: tenant, Collection: c, ID: "a", Values: map[string]any{"views": 3.0}, Updated: later, IfMatch: stale})
	wantCode(t, "update with a stale version", err, basalt.CodePreconditionFailed)
	_, _, err = s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: tenant, Collection: c, ID: "missing", Values: map[string]any{"views": 3.0}, Updated: later, IfMatch: stale})
	wantCode(t, "update a missing record", err, basalt.CodeNotFound)
	_, err = s.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: tenant, Collection: c, ID: "a", IfMatch: stale})
	wantCode(t, "delete with a stale version", err, basalt.CodePreconditionFailed)

	ev, err = s.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: tenant, Collection: c, ID: "a", IfMatch: &store.Version{Version: 2, Updated: later}})
	if err != nil {
		t.Fatalf("RecordDelete() = %v", err)
	}
	if ev.Op != basalt.OpDelete || string(ev.Record) != recordJSON(c, want) {
		t.Errorf("delete event = %+v, want the record as it was", ev)
	}
	_, err = s.RecordGet(ctx, &store.RecordGetParams{TenantID: tenant, Collection: c, ID: "a"})
	wantCode(t, "get a deleted record", err, basalt.CodeNotFound)
	_, err = s.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: tenant, Collection: c, ID: "a"})
	wantCode(t, "delete a deleted record", err, basalt.CodeNotFound)
}

func testTenancy(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, newDB)
	c := MustCollection(t, s, postsDef())
	MustInsert(t, s, "acme", c, NewRecord("same", map[string]any{"title": "acme's", "slug": "s"}))
	MustInsert(t, s, "globex", c, NewRecord("same", map[string]any{"title": "globex's", "slug": "s"}))
	MustInsert(t, s, "globex", c, NewRecord("only-globex", map[string]any{"title": "secret"}))

	got, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: "acme", Collection: c, ID: "same"})
	if err != nil || got.Data["title"] != "acme's" {
		t.Fatalf("acme RecordGet(same) = %v, %v; want acme's own record", got, err)
	}
	_, err = s.RecordGet(ctx, &store.RecordGetParams{TenantID: "acme", Collection: c, ID: "only-globex"})
	wantCode(t, "acme reads globex's record", err, basalt.CodeNotFound)
	_, _, err = s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: "acme", Collection: c, ID: "only-globex", Values: map[string]any{"title": "x"}, Updated: testNow})
	wantCode(t, "acme updates globex's record", err, basalt.CodeNotFound)
	_, err = s.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: "acme", Collection: c, ID: "only-globex"})
	wantCode(t, "acme deletes globex's record", err, basalt.CodeNotFound)

	list, err := s.RecordList(ctx, &store.RecordListParams{TenantID: "acme", Collection: c, Limit: 100})
	if err != nil || len(list) != 1 || list[0].ID != "same" {
		t.Fatalf("acme RecordList() = %d records, %v; want only its own", len(list), err)
	}
	events, err := s.EventList(ctx, &store.EventListParams{TenantID: "acme", Limit: 100})
	if err != nil || len(events) != 1 || events[0].TenantID != "acme" {
		t.Fatalf("acme EventList() = %+v, %v; want only its own event", events, err)
	}
	// Without a tenant, the store refuses instead of reading everything.
	if _, err := s.RecordGet(ctx, &store.RecordGetParams{Collection: c, ID: "same"}); err == nil {
		t.Error("RecordGet without a tenant succeeded, want an error")
	}
	if _, err := s.RecordList(ctx, &store.RecordListParams{Collection: c, Limit: 10}); err == nil {
		t.Error("RecordList without a tenant succeeded, want an error")
	}
	if _, err := s.EventList(ctx, &store.EventListParams{Limit: 10}); err == nil {
		t.Error("EventList without a tenant succeeded, want an error")
	}
}
