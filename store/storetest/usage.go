package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// storedBytes is a record's stored bytes as store.Usage defines them,
// computed here on its own so the drivers' counts are checked against
// the definition, not against their own code.
func storedBytes(c *basalt.Collection, r *basalt.Record) int64 {
	var n int64
	for _, f := range c.Fields {
		switch v := r.Data[f.Name].(type) {
		case nil:
		case string:
			n += int64(len(v))
		case json.RawMessage:
			n += int64(len(v))
		case bool:
			n++
		default:
			n += 8 // a number or a date
		}
	}
	return n
}

// counted is what the records of a tenant add up to, read back from the
// store: the truth the counters must match.
func counted(t *testing.T, s store.Store, tenant string, cs ...*basalt.Collection) (records, bytes int64) {
	t.Helper()
	for _, c := range cs {
		recs, err := s.RecordList(context.Background(), &store.RecordListParams{TenantID: tenant, Collection: c, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			records++
			bytes += storedBytes(c, r)
		}
	}
	return records, bytes
}

// wantUsage fails unless the store's counts of tenant are records and bytes.
func wantUsage(t *testing.T, s store.Store, tenant string, records, bytes int64) {
	t.Helper()
	u, err := s.UsageGet(context.Background(), tenant, testNow)
	if err != nil {
		t.Fatalf("UsageGet(%s) = %v", tenant, err)
	}
	if u.Records != records || u.Bytes != bytes {
		t.Fatalf("UsageGet(%s) = %d records, %d bytes; want %d, %d", tenant, u.Records, u.Bytes, records, bytes)
	}
}

func testUsage(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("Counts", func(t *testing.T) { testUsageCounts(t, newDB) })
	t.Run("Quota", func(t *testing.T) { testUsageQuota(t, newDB) })
	t.Run("Definitions", func(t *testing.T) { testUsageDefinitions(t, newDB) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testUsageConcurrent(t, newDB) })
	t.Run("Requests", func(t *testing.T) { testUsageRequests(t, newDB) })
	t.Run("Overrides", func(t *testing.T) { testUsageOverrides(t, newDB) })
}

func testUsageCounts(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, newDB)
	c := MustCollection(t, s, postsDef())
	wantUsage(t, s, "acme", 0, 0)

	// Every type: "héllo" is 6 bytes, the number and date 8, the bool 1,
	// the json as sent.
	r1 := NewRecord("r1", map[string]any{"title": "héllo", "views": 3.0, "draft": true, "published": testNow, "meta": json.RawMessage(`{"a": [1, 2]}`)})
	MustInsert(t, s, "acme", c, r1)
	MustInsert(t, s, "acme", c, NewRecord("r2", map[string]any{"title": "x"}))
	MustInsert(t, s, "other", c, NewRecord("r1", map[string]any{"title": "other tenant"}))
	wantUsage(t, s, "acme", 2, 6+8+1+8+13+1)
	wantUsage(t, s, "other", 1, 12)

	// Growing, shrinking and clearing values.
	update := func(id string, values map[string]any) {
		t.Helper()
		if _, _, err := s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: "acme", Collection: c, ID: id, Values: values, Updated: testNow}); err != nil {
			t.Fatalf("RecordUpdate(%s) = %v", id, err)
		}
	}
	update("r2", map[string]any{"title": "a longer title", "slug": "s"})
	r, b := counted(t, s, "acme", c)
	wantUsage(t, s, "acme", r, b)
	update("r1", map[string]any{"title": "h", "meta": nil, "views": nil})
	r, b = counted(t, s, "acme", c)
	wantUsage(t, s, "acme", r, b)
	if b != 1+1+8+14+1 {
		t.Fatalf("counted bytes = %d, want %d", b, 1+1+8+14+1)
	}

	// A missing record changes nothing.
	_, _, err := s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: "acme", Collection: c, ID: "nope", Values: map[string]any{"title": "zzzz"}, Updated: testNow})
	wantCode(t, "RecordUpdate(missing)", err, basalt.CodeNotFound)
	wantUsage(t, s, "acme", r, b)

	if _, err := s.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: "acme", Collection: c, ID: "r1"}); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, "acme", 1, 15)
	wantUsage(t, s, "other", 1, 12)

	// Deleting the collection takes its records off every tenant.
	if err := s.CollectionDelete(ctx, c.Name, nil); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, "acme", 0, 0)
	wantUsage(t, s, "other", 0, 0)
	total, bytes, err := s.UsageTotals(ctx)
	if err != nil || total != 0 || bytes != 0 {
		t.Fatalf("UsageTotals() = %d, %d, %v; want 0, 0", total, bytes, err)
	}
}

func testUsageQuota(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, newDB)
	c := MustCollection(t, s, postsDef())
	quota := &store.Quota{Records: 2, Bytes: 20}
	insert := func(id, title string) error {
		_, err := s.RecordInsert(ctx, &store.RecordInsertParams{TenantID: "acme", Collection: c, Quota: quota,
			Record: NewRecord(id, map[string]any{"title": title})})
		return err
	}
	if err := insert("a", "0123456789"); err != nil {
		t.Fatal(err)
	}
	head, err := s.EventHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Over the bytes quota: refused, and nothing is left of it.
	err = insert("b", "0123456789-")
	wantCode(t, "RecordInsert(over bytes)", err, basalt.CodeQuotaExceeded)
	if want := `Tenant "acme" is at its bytes quota: the limit is 20, 10 are used and this write would add 11.`; basalt.ErrorMessage(err)[:len(want)] != want {
		t.Errorf("RecordInsert(over bytes) message = %q, want it to start %q", basalt.ErrorMessage(err), want)
	}
	_, err = s.RecordGet(ctx, &store.RecordGetParams{TenantID: "acme", Collection: c, ID: "b"})
	wantCode(t, "RecordGet(refused)", err, basalt.CodeNotFound)
	if h, err := s.EventHead(ctx); err != nil || h != head {
		t.Fatalf("EventHead() = %d, %v after a refused write; want %d", h, err, head)
	}
	wantUsage(t, s, "acme", 1, 10)
	// Up to the limit exactly, then over the records quota.
	if err := insert("b", "0123456789"); err != nil {
		t.Fatalf("RecordInsert(to the limit) = %v", err)
	}
	wantCode(t, "RecordInsert(over records)", insert("c", ""), basalt.CodeQuotaExceeded)
	wantUsage(t, s, "acme", 2, 20)
	// Other tenants have their own counts.
	if _, err := s.RecordInsert(ctx, &store.RecordInsertParams{TenantID: "other", Collection: c, Quota: quota, Record: NewRecord("c", nil)}); err != nil {
		t.Fatal(err)
	}

	// An update that grows past the quota is refused; one that shrinks
	// passes even over a lowered quota.
	update := func(q *store.Quota, title string) error {
		_, _, err := s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: "acme", Collection: c, ID: "a", Quota: q,
			Values: map[string]any{"title": title}, Updated: testNow})
		return err
	}
	wantCode(t, "RecordUpdate(grow)", update(quota, "0123456789!"), basalt.CodeQuotaExceeded)
	got, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: "acme", Collection: c, ID: "a"})
	if err != nil || got.Data["title"] != "0123456789" || got.Version != 1 {
		t.Fatalf("record after a refused update = %v, %v; want it unchanged", got, err)
	}
	if err := update(&store.Quota{Bytes: 5}, "012345678"); err != nil {
		t.Fatalf("RecordUpdate(shrink over quota) = %v", err)
	}
	wantUsage(t, s, "acme", 2, 19)
}

func testUsageDefinitions(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, newDB)
	c := MustCollection(t, s, postsDef())
	MustInsert(t, s, "acme", c, NewRecord("a", map[string]any{"title": "abc", "meta": json.RawMessage(`[1]`)}))
	MustInsert(t, s, "acme", c, NewRecord("b", map[string]any{"title": "de"}))
	MustInsert(t, s, "other", c, NewRecord("a", map[string]any{"title": "f", "meta": json.RawMessage(`{}`)}))
	wantUsage(t, s, "acme", 2, 8)

	// Renaming a field changes no usage; dropping one with values takes
	// them off; a new field with a default adds its value to every record.
	next := cloneCollection(c)
	next.Fields[0].Name = "headline"
	next.Fields = append(next.Fields[:5], next.Fields[6:]...) // meta
	next.Fields = append(next.Fields, basalt.Field{Name: "lang", Type: basalt.TypeText, Default: json.RawMessage(`"en"`)})
	next.Normalize()
	next.Updated = testNow.Add(time.Second)
	if err := s.CollectionUpdate(ctx, &store.CollectionUpdateParams{Old: c, New: next, Renames: map[string]string{"title": "headline"}}); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, "acme", 2, 5+2+2)
	wantUsage(t, s, "other", 1, 1+2)
	r, b := counted(t, s, "acme", next)
	wantUsage(t, s, "acme", r, b)
	MustInsert(t, s, "acme", next, NewRecord("c", map[string]any{"headline": "g"}))
	wantUsage(t, s, "acme", 3, 10)

	// Deleting a tenant deletes its counts.
	if err := s.TenantCreate(ctx, &store.Tenant{ID: "other", Name: "Other", Created: testNow, Updated: testNow}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.TenantDelete(ctx, "other", []string{basalt.TableName(next.Name)}, testNow); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, "other", 0, 0)
	wantUsage(t, s, "acme", 3, 10)
}

// testUsageConcurrent writes one tenant's records from two nodes at once,
// inserts, updates that grow and shrink, and deletes, and checks the
// counts against the records that are left.
func testUsageConcurrent(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoNodes(t, newDB(t))
	c := MustCollection(t, a, postsDef())
	c2 := MustCollection(t, a, &basalt.Collection{Name: "notes", Fields: []basalt.Field{{Name: "body", Type: basalt.TypeText}}, Created: testNow, Updated: testNow})
	if err := b.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const writers, ops = 8, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range ops {
				if err := usageOp(ctx, s, rng, []*basalt.Collection{c, c2}, w, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, bytes := counted(t, a, "acme", c, c2)
	if r == 0 {
		t.Fatal("no records left; the test proves nothing")
	}
	wantUsage(t, a, "acme", r, bytes)
	wantUsage(t, b, "acme", r, bytes)
}

// usageOp is one random write of writer w: an insert, or an update or
// delete of a record it made before (a record missing by then is fine).
func usageOp(ctx context.Context, s store.Store, rng *rand.Rand, cs []*basalt.Collection, w, i int) error {
	c := cs[rng.IntN(len(cs))]
	text := "title"
	if c.Name == "notes" {
		text = "body"
	}
	id := fmt.Sprintf("w%d-%d", w, rng.IntN(i+1))
	var err error
	switch op := rng.IntN(4); {
	case op <= 1 || i == 0:
		id = fmt.Sprintf("w%d-%d", w, i)
		_, err = s.RecordInsert(ctx, &store.RecordInsertParams{TenantID: "acme", Collection: c,
			Record: NewRecord(id, map[string]any{text: fmt.Sprint(rng.Uint64())})})
	case op == 2:
		_, _, err = s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: "acme", Collection: c, ID: id, Updated: testNow,
			Values: map[string]any{text: fmt.Sprintf("%*d", rng.IntN(40), i)}})
	default:
		_, err = s.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: "acme", Collection: c, ID: id})
	}
	if code := basalt.ErrorCode(err); err != nil && code != basalt.CodeNotFound && code != basalt.CodeConflict {
		return fmt.Errorf("write %s/%s: %w", c.Name, id, err)
	}
	return nil
}

func testUsageRequests(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoNodes(t, newDB(t))
	now := testNow.AddDate(0, 0, 14) // mid-month
	day := store.DayOf(now)
	add := func(s store.Store, counts ...store.RequestCount) {
		t.Helper()
		if err := s.RequestsAdd(ctx, counts); err != nil {
			t.Fatal(err)
		}
	}
	add(a, store.RequestCount{TenantID: "acme", Day: day, Count: 5}, store.RequestCount{TenantID: "other", Day: day, Count: 1})
	add(b, store.RequestCount{TenantID: "acme", Day: day, Count: 7})
	add(b, store.RequestCount{TenantID: "acme", Day: day.AddDate(0, 0, -1), Count: 100})  // earlier this month
	add(a, store.RequestCount{TenantID: "acme", Day: day.AddDate(0, -1, 0), Count: 1000}) // last month
	got, err := b.RequestTotals(ctx, []string{"acme", "other", "none"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.RequestTotals{"acme": {Day: 12, Month: 112}, "other": {Day: 1, Month: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("RequestTotals() = %v, want %v", got, want)
	}
	u, err := a.UsageGet(ctx, "acme", now)
	if err != nil || u.RequestsDay != 12 || u.RequestsMonth != 112 {
		t.Fatalf("UsageGet() = %+v, %v; want 12 today and 112 this month", u, err)
	}
	if err := a.RequestsPrune(ctx, day.AddDate(0, 0, -1)); err != nil {
		t.Fatal(err)
	}
	got, err = a.RequestTotals(ctx, []string{"acme"}, day.AddDate(0, -1, 0))
	if err != nil || len(got) != 0 {
		t.Fatalf("RequestTotals(last month) after pruning = %v, %v; want none", got, err)
	}
}

func testUsageOverrides(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, newDB)
	n := func(v int64) *int64 { return &v }
	o := &store.QuotaOverride{TenantID: "acme", RequestsDay: n(10), Records: n(0), Updated: testNow}
	audit := &store.AuditEntry{TenantID: "acme", Time: testNow, Actor: "key:op", Action: "quota.set", Target: "acme"}
	if err := s.QuotaPut(ctx, o, audit); err != nil {
		t.Fatal(err)
	}
	if err := s.QuotaPut(ctx, &store.QuotaOverride{TenantID: "other", Bytes: n(5), Updated: testNow}, nil); err != nil {
		t.Fatal(err)
	}
	list, err := s.QuotaList(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("QuotaList() = %v, %v; want 2", list, err)
	}
	got := list[0]
	if got.TenantID != "acme" || *got.RequestsDay != 10 || got.RequestsMonth != nil || *got.Records != 0 || got.Bytes != nil || !got.Updated.Equal(testNow) {
		t.Fatalf("QuotaList()[0] = %+v, want %+v", got, o)
	}
	entries, err := s.AuditList(ctx, "acme", 0, 10)
	if err != nil || len(entries) != 1 || entries[0].Action != "quota.set" {
		t.Fatalf("AuditList() = %v, %v; want the quota.set entry", entries, err)
	}
	// Overriding nothing removes the overrides.
	if err := s.QuotaPut(ctx, &store.QuotaOverride{TenantID: "acme", Updated: testNow}, nil); err != nil {
		t.Fatal(err)
	}
	if list, err = s.QuotaList(ctx); err != nil || len(list) != 1 || list[0].TenantID != "other" {
		t.Fatalf("QuotaList() after clearing = %v, %v; want only other", list, err)
	}
}

// UsageBackfill checks that the migration which made the usage tables
// counted the records that existed before it. forget takes the database
// back to before that migration: it drops the usage tables and the
// migration's row in _migrations, as the previous release left them.
func UsageBackfill(t *testing.T, s store.Store, forget func(t *testing.T)) {
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := MustCollection(t, s, postsDef())
	MustInsert(t, s, "acme", c, NewRecord("a", map[string]any{"title": "héllo", "views": 1.0, "meta": json.RawMessage(`{"x":1}`)}))
	MustInsert(t, s, "acme", c, NewRecord("b", map[string]any{"draft": false, "published": testNow}))
	MustInsert(t, s, "other", c, NewRecord("a", map[string]any{"title": "x"}))
	forget(t)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() again = %v", err)
	}
	wantUsage(t, s, "acme", 2, 6+8+7+1+8)
	wantUsage(t, s, "other", 1, 1)
}
