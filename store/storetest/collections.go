package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

func testCollections(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("CreateListDelete", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, newDB)
		c := MustCollection(t, s, postsDef())
		err := s.CollectionCreate(ctx, postsDef(), nil)
		wantCode(t, "CollectionCreate(duplicate)", err, basalt.CodeConflict)

		list, err := s.CollectionList(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "posts" || len(list[0].Fields) != len(c.Fields) {
			t.Fatalf("CollectionList() = %v, %v; want [posts]", list, err)
		}
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("a", map[string]any{"title": "x"}))
		if err := s.CollectionDelete(ctx, "posts", nil); err != nil {
			t.Fatalf("CollectionDelete() = %v", err)
		}
		wantCode(t, "CollectionDelete(again)", s.CollectionDelete(ctx, "posts", nil), basalt.CodeNotFound)
		// A new collection of the same name starts empty.
		c = MustCollection(t, s, postsDef())
		_, err = s.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: "a"})
		wantCode(t, "RecordGet after re-create", err, basalt.CodeNotFound)
	})
	t.Run("Audited", func(t *testing.T) {
		t.Parallel()
		testCollectionAudit(t, open(t, newDB))
	})
	t.Run("AlterKeepsData", func(t *testing.T) {
		t.Parallel()
		testAlter(t, open(t, newDB))
	})
	t.Run("UniqueOverDuplicates", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, newDB)
		c := MustCollection(t, s, postsDef())
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("a", map[string]any{"title": "same"}))
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("b", map[string]any{"title": "same"}))
		next := cloneCollection(c)
		next.Fields[0].Unique = true
		err := s.CollectionUpdate(ctx, &store.CollectionUpdateParams{Old: c, New: next})
		wantCode(t, "CollectionUpdate(unique over duplicates)", err, basalt.CodeConflict)
		// The failed change left nothing behind: the old definition works.
		list, _ := s.CollectionList(ctx)
		if len(list) != 1 || list[0].Fields[0].Unique {
			t.Fatalf("definition after failed update = %+v, want unchanged", list)
		}
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("c", map[string]any{"title": "same"}))
	})
	t.Run("SchemaEvents", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, newDB)
		c := MustCollection(t, s, postsDef())
		if err := s.CollectionDelete(ctx, c.Name, nil); err != nil {
			t.Fatal(err)
		}
		events, err := s.EventList(ctx, &store.EventListParams{AllTenants: true, Limit: 10})
		if err != nil || len(events) != 2 {
			t.Fatalf("EventList() = %d events, %v; want 2", len(events), err)
		}
		var got basalt.Collection
		if events[0].Op != basalt.OpSchema || json.Unmarshal(events[0].Record, &got) != nil || got.Name != "posts" {
			t.Errorf("create event = %+v, want a schema event holding the definition", events[0])
		}
		if events[1].Op != basalt.OpSchema || events[1].Record != nil {
			t.Errorf("delete event = %+v, want a schema event with no record", events[1])
		}
		if tenantEvents, _ := s.EventList(ctx, &store.EventListParams{TenantID: basalt.DefaultTenant, Limit: 10}); len(tenantEvents) != 0 {
			t.Errorf("a tenant's events include %d schema events, want none", len(tenantEvents))
		}
	})
}

// testAlter adds, renames and drops fields and indexes of a collection
// with data, and checks that every surviving value is intact.
func testAlter(t *testing.T, s store.Store) {
	ctx := context.Background()
	tenant := basalt.DefaultTenant
	c := MustCollection(t, s, postsDef())
	MustInsert(t, s, tenant, c, NewRecord("a", map[string]any{"title": "first", "views": 10.0, "draft": true, "slug": "s1"}))
	MustInsert(t, s, tenant, c, NewRecord("b", map[string]any{"title": "second", "views": 20.0, "slug": "s2"}))

	next := cloneCollection(c)
	next.Fields = slices.DeleteFunc(next.Fields, func(f basalt.Field) bool { return f.Name == "draft" })
	for i := range next.Fields {
		switch next.Fields[i].Name {
		case "views":
			next.Fields[i].Name = "hits"
		case "slug":
			next.Fields[i].Name = "handle"
		}
	}
	next.Fields = append(next.Fields, basalt.Field{Name: "score", Type: basalt.TypeNumber, Default: json.RawMessage("5")})
	next.Indexes = []basalt.Index{{Name: "views", Fields: []string{"hits"}}, {Fields: []string{"score", "title"}, Unique: true}}
	next.Normalize()
	if err := next.Validate(); err != nil {
		t.Fatalf("Validate(next) = %v", err)
	}
	err := s.CollectionUpdate(ctx, &store.CollectionUpdateParams{Old: c, New: next, Renames: map[string]string{"views": "hits", "slug": "handle"}})
	if err != nil {
		t.Fatalf("CollectionUpdate() = %v", err)
	}
	got, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: tenant, Collection: next, ID: "a"})
	if err != nil {
		t.Fatalf("RecordGet(a) = %v", err)
	}
	want := NewRecord("a", map[string]any{"title": "first", "hits": 10.0, "handle": "s1", "score": 5.0})
	if recordJSON(next, got) != recordJSON(next, want) {
		t.Errorf("after alter, a = %s\nwant %s", recordJSON(next, got), recordJSON(next, want))
	}
	// The renamed unique field is still unique; the new unique index holds.
	_, err = s.RecordInsert(ctx, &store.RecordInsertParams{TenantID: tenant, Collection: next, Record: NewRecord("c", map[string]any{"title": "third", "handle": "s1"})})
	wantCode(t, "insert duplicate renamed unique field", err, basalt.CodeConflict)
	_, err = s.RecordInsert(ctx, &store.RecordInsertParams{TenantID: tenant, Collection: next, Record: NewRecord("d", map[string]any{"title": "first", "score": 5.0})})
	wantCode(t, "insert duplicate (score, title)", err, basalt.CodeConflict)
}

func cloneCollection(c *basalt.Collection) *basalt.Collection {
	n := *c
	n.Fields = slices.Clone(c.Fields)
	n.Indexes = nil
	for _, ix := range c.Indexes {
		ix.Fields = slices.Clone(ix.Fields)
		n.Indexes = append(n.Indexes, ix)
	}
	return &n
}

// testCollectionAudit checks that a change of definition and its audit
// entry commit together: a change that fails leaves no entry.
func testCollectionAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	entry := func(action string) *store.AuditEntry {
		return &store.AuditEntry{TenantID: basalt.DefaultTenant, Time: testNow, Actor: "key:k1", Action: action, Target: "posts", IP: "192.0.2.1"}
	}
	c := postsDef()
	if err := s.CollectionCreate(ctx, c, entry("collection.create")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "CollectionCreate(duplicate)", s.CollectionCreate(ctx, postsDef(), entry("collection.create")), basalt.CodeConflict)
	MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("a", map[string]any{"title": "same"}))
	MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("b", map[string]any{"title": "same"}))
	next := cloneCollection(c)
	next.Fields[0].Unique = true
	wantCode(t, "CollectionUpdate(unique over duplicates)", s.CollectionUpdate(ctx, &store.CollectionUpdateParams{Old: c, New: next, Audit: entry("collection.update")}), basalt.CodeConflict)
	next = cloneCollection(c)
	next.Fields = append(next.Fields, basalt.Field{Name: "extra", Type: basalt.TypeText})
	if err := s.CollectionUpdate(ctx, &store.CollectionUpdateParams{Old: c, New: next, Audit: entry("collection.update")}); err != nil {
		t.Fatal(err)
	}
	if err := s.CollectionDelete(ctx, "posts", entry("collection.delete")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "CollectionDelete(again)", s.CollectionDelete(ctx, "posts", entry("collection.delete")), basalt.CodeNotFound)
	entries, err := s.AuditList(ctx, basalt.DefaultTenant, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if want := []string{"collection.create", "collection.update", "collection.delete"}; !slices.Equal(actions, want) {
		t.Errorf("audit actions = %v, want %v (failed changes leave no entry)", actions, want)
	}
}
