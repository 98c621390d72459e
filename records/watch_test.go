package records

import (
	"sync"
	"testing"

	"basalt.dev/basalt"
)

func TestEventCacheDecodesOnceAndFollowsTheDefinition(t *testing.T) {
	t.Parallel()
	c := &basalt.Collection{Name: "posts", Fields: []basalt.Field{{Name: "title", Type: basalt.TypeText}}}
	event := func(pos int64, title string) *basalt.Event {
		return &basalt.Event{Position: pos, Collection: "posts", Op: basalt.OpCreate,
			Record: []byte(`{"id":"r1","created":"2026-01-02T03:04:05.000Z","updated":"2026-01-02T03:04:05.000Z","title":"` + title + `"}`)}
	}
	var ec eventCache
	e := event(7, "first")
	recs := make([]*basalt.Record, 8)
	var wg sync.WaitGroup
	for i := range recs {
		wg.Go(func() {
			r, err := ec.record(c, e)
			if err != nil {
				t.Errorf("record(event 7) = %v", err)
			}
			recs[i] = r
		})
	}
	wg.Wait()
	for _, r := range recs[1:] {
		if r != recs[0] {
			t.Fatalf("record(event 7) decoded more than once: %p and %p", r, recs[0])
		}
	}
	if got := recs[0].Data["title"]; got != "first" {
		t.Errorf("title = %v, want first", got)
	}

	// An event in the same slot is decoded on its own.
	r, err := ec.record(c, event(7+int64(len(ec.entries)), "second"))
	if err != nil || r.Data["title"] != "second" {
		t.Errorf("record(event in the same slot) = %v, %v; want title second", r, err)
	}

	// A changed definition decodes the event again against it: a field
	// gone is left out.
	renamed := &basalt.Collection{Name: "posts", Fields: []basalt.Field{{Name: "headline", Type: basalt.TypeText}}}
	r, err = ec.record(renamed, e)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Data["title"]; ok || r == recs[0] {
		t.Errorf("record(event 7) after the change = %v, want no title", r.Data)
	}
}
