package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"basalt.dev/basalt"
)

// testCursors checks named cursors and their lease across nodes: one
// holder at a time, taken over only once expired or given up, and a
// cursor moved only by its lease's holder.
func testCursors(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	o := newDB(t)
	a, b := twoNodes(t, o)

	if pos, err := a.CursorGet(ctx, "nats:X"); err != nil || pos != 0 {
		t.Fatalf("CursorGet(never set) = %d, %v; want 0", pos, err)
	}
	wantCode(t, "CursorSet(without a lease)", a.CursorSet(ctx, "nats:X", "a", 5), basalt.CodeConflict)

	now := testNow
	lease := func(n interface {
		CursorLease(context.Context, string, string, time.Time, time.Time) (bool, error)
	}, holder string, at time.Time, want bool) {
		t.Helper()
		got, err := n.CursorLease(ctx, "nats:X", holder, at, at.Add(10*time.Second))
		if err != nil || got != want {
			t.Fatalf("CursorLease(%s at +%v) = %v, %v; want %v", holder, at.Sub(now), got, err, want)
		}
	}
	lease(a, "a", now, true)
	lease(b, "b", now.Add(5*time.Second), false) // held
	lease(a, "a", now.Add(5*time.Second), true)  // renewed until +15s
	if err := a.CursorSet(ctx, "nats:X", "a", 42); err != nil {
		t.Fatalf("CursorSet(holder) = %v", err)
	}
	if pos, err := b.CursorGet(ctx, "nats:X"); err != nil || pos != 42 {
		t.Fatalf("CursorGet() on another node = %d, %v; want 42", pos, err)
	}
	lease(b, "b", now.Add(14*time.Second), false) // the renewal holds
	lease(b, "b", now.Add(15*time.Second), true)  // expired: taken over
	wantCode(t, "CursorSet(former holder)", a.CursorSet(ctx, "nats:X", "a", 99), basalt.CodeConflict)
	if err := b.CursorSet(ctx, "nats:X", "b", 50); err != nil {
		t.Fatalf("CursorSet(new holder) = %v", err)
	}
	if pos, err := a.CursorGet(ctx, "nats:X"); err != nil || pos != 50 {
		t.Fatalf("CursorGet() = %d, %v; want 50, the new holder's", pos, err)
	}

	// Giving the lease up (renewing it until now) frees it at once.
	at := now.Add(16 * time.Second)
	if ok, err := b.CursorLease(ctx, "nats:X", "b", at, at); err != nil || !ok {
		t.Fatalf("CursorLease(give up) = %v, %v", ok, err)
	}
	lease(a, "a", at, true)

	// Cursors are independent.
	if pos, err := a.CursorGet(ctx, "nats:Y"); err != nil || pos != 0 {
		t.Fatalf("CursorGet(other cursor) = %d, %v; want 0", pos, err)
	}
	if ok, err := b.CursorLease(ctx, "nats:Y", "b", at, at.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("CursorLease(other cursor) = %v, %v", ok, err)
	}

	// Nodes claiming a free lease at once: exactly one gets it.
	stores := []interface {
		CursorLease(context.Context, string, string, time.Time, time.Time) (bool, error)
	}{a, b, o(t)}
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			ok, err := stores[i%len(stores)].CursorLease(ctx, "nats:Z", fmt.Sprint("node", i), now, now.Add(time.Minute))
			if err != nil {
				t.Errorf("CursorLease(concurrent) = %v", err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Fatalf("%d of 12 concurrent claims got the lease; want 1", n)
	}
}
