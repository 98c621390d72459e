package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

func testEvents(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("Order", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, newDB)
		c := MustCollection(t, s, postsDef())
		head0, err := s.EventHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			MustInsert(t, s, basalt.DefaultTenant, c, NewRecord(fmt.Sprint("r", i), map[string]any{"title": "t"}))
		}
		head, err := s.EventHead(ctx)
		if err != nil || head < head0+5 {
			t.Fatalf("EventHead() = %d, %v; want at least %d", head, err, head0+5)
		}
		var all []basalt.Event
		after := int64(0)
		for {
			page, err := s.EventList(ctx, &store.EventListParams{TenantID: basalt.DefaultTenant, After: after, Limit: 2})
			if err != nil {
				t.Fatalf("EventList() = %v", err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = page[len(page)-1].Position
		}
		if len(all) != 5 {
			t.Fatalf("read %d events, want 5", len(all))
		}
		for i, e := range all {
			if e.RecordID != fmt.Sprint("r", i) || e.Op != basalt.OpCreate || e.Collection != "posts" || e.TenantID != basalt.DefaultTenant || e.Time.IsZero() {
				t.Errorf("event %d = %+v", i, e)
			}
			if i > 0 && e.Position <= all[i-1].Position {
				t.Errorf("positions not increasing: %d after %d", e.Position, all[i-1].Position)
			}
		}
	})
	t.Run("ConcurrentWritersManyNodes", func(t *testing.T) {
		t.Parallel()
		testEventsConcurrent(t, newDB(t))
	})
}

// testEventsConcurrent stands in for several nodes: one store per node on
// the same database, many writers on each, and a tailing reader on its
// own node that must see every acknowledged write exactly once, in
// position order, even when positions commit out of order.
func testEventsConcurrent(t *testing.T, openDB Opener) {
	ctx := context.Background()
	const nodes, writersPerNode, writes = 3, 6, 40
	first := openDB(t)
	if err := first.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := MustCollection(t, first, postsDef())
	stores := []store.Store{first}
	for range nodes - 1 {
		stores = append(stores, openDB(t))
	}
	reader := openDB(t)

	var acked sync.Map // record id -> true, once the insert returned
	var done atomic.Bool
	seen := map[string]int{}
	var readErr error
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		after := int64(0)
		for {
			finished := done.Load() // read before the list: after it, nothing new is acknowledged
			page, err := reader.EventList(ctx, &store.EventListParams{TenantID: basalt.DefaultTenant, After: after, Limit: 50})
			if err != nil {
				readErr = err
				return
			}
			for _, e := range page {
				if e.Position <= after {
					readErr = fmt.Errorf("position %d after %d: out of order", e.Position, after)
					return
				}
				after = e.Position
				seen[e.RecordID]++
			}
			if finished && len(page) == 0 {
				return
			}
			if len(page) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	var writers sync.WaitGroup
	for n, s := range stores {
		for w := range writersPerNode {
			writers.Go(func() {
				for i := range writes {
					id := fmt.Sprintf("n%dw%di%d", n, w, i)
					_, err := s.RecordInsert(ctx, &store.RecordInsertParams{TenantID: basalt.DefaultTenant, Collection: c, Record: NewRecord(id, map[string]any{"title": id})})
					if err != nil {
						t.Errorf("insert %s: %v", id, err)
						return
					}
					acked.Store(id, true)
				}
			})
		}
	}
	writers.Wait()
	done.Store(true)
	readerWG.Wait()
	if readErr != nil {
		t.Fatalf("tailing reader: %v", readErr)
	}
	count := 0
	acked.Range(func(k, _ any) bool {
		count++
		if n := seen[k.(string)]; n != 1 {
			t.Errorf("acknowledged write %s seen %d times by the reader, want 1", k, n)
		}
		return true
	})
	if count != nodes*writersPerNode*writes {
		t.Errorf("%d writes acknowledged, want %d", count, nodes*writersPerNode*writes)
	}
	if len(seen) != count {
		t.Errorf("reader saw %d distinct records, want %d", len(seen), count)
	}
}
