package store

import (
	"context"
	"time"
)

// Cursors is the storage of named positions in the event log, kept by
// consumers that follow the log outside a request (the NATS export). A
// consumer moves its cursor only once its destination has the events up
// to it, so a restart resumes where the destination stands. Of several
// nodes, one advances a cursor at a time: the holder of its lease.
type Cursors interface {
	// CursorGet returns the cursor's position: 0 for a cursor never set.
	CursorGet(ctx context.Context, name string) (int64, error)
	// CursorLease gives holder the cursor's lease until until, and reports
	// whether it did: it does when no one holds the lease, when the lease
	// expired by now, or when holder holds it already (a renewal). A
	// holder gives the lease up by renewing it until now.
	CursorLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// CursorSet moves the cursor to pos for holder. CodeConflict when
	// holder no longer holds the lease: another took it once it expired,
	// and that one's writes win.
	CursorSet(ctx context.Context, name, holder string, pos int64) error
}
