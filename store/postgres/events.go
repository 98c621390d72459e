package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
	"github.com/jackc/pgx/v5"
)

// appendEvent appends e in tx and sets its position.
//
// It must follow the transaction's change to the data: that write gives
// the transaction its id before the event takes a position, which the
// settled read below relies on.
func appendEvent(ctx context.Context, tx pgx.Tx, e *basalt.Event) error {
	if err := tx.QueryRow(ctx, sqlgen.EventInsert(filter.Postgres), sqlgen.EventArgs(filter.Postgres, e)...).Scan(&e.Position); err != nil {
		return fmt.Errorf("postgres: append event: %w", err)
	}
	return nil
}

// horizon is how far this node knows the log to be settled: every event
// at or below pos is committed, and no event at or below it can appear
// later. It only moves forward.
type horizon struct {
	mu   sync.Mutex
	pos  int64
	init bool
}

// settled returns the settled horizon, advanced as far as it can be now.
//
// Positions come from a sequence, and concurrent writers commit them out
// of order: position 7 can be visible while the transaction that took 6
// is still running. A reader that moved past 6 would never see it. So the
// horizon advances over a run of consecutive visible positions freely,
// and stops at a gap: the missing position belongs to a transaction
// still running (it will appear) or one that rolled back (it never will).
// To tell them apart, a fence: after reading the positions in snapshot S,
// take a new transaction id N and wait until no transaction older than N
// runs. Every transaction that took a position seen missing in S had its
// id before S (it wrote its data before appending its event, see
// appendEvent), so before N; once they have all ended, the positions up
// to the highest one read in S are final.
func (db *DB) settled(ctx context.Context) (int64, error) {
	h := &db.horizon
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.init {
		var m int64
		if err := db.read(ctx, allTenants, `SELECT coalesce(max(position), 0) FROM _events`, nil, func(rows pgx.Rows) error {
			var err error
			m, err = pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
			return err
		}); err != nil {
			return 0, fmt.Errorf("postgres: event horizon: %w", err)
		}
		if err := db.fence(ctx); err != nil {
			return 0, err
		}
		h.pos, h.init = m, true
	}
	for {
		var seen []int64
		err := db.read(ctx, allTenants, `SELECT position FROM _events WHERE position > $1 ORDER BY position LIMIT 1000`, []any{h.pos}, func(rows pgx.Rows) error {
			var err error
			seen, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("postgres: event horizon: %w", err)
		}
		start := h.pos
		for _, p := range seen {
			if p != h.pos+1 {
				break
			}
			h.pos = p
		}
		switch {
		case len(seen) == 0:
			return h.pos, nil
		case h.pos == seen[len(seen)-1] && len(seen) == 1000:
			continue // all consecutive, and there may be more
		case h.pos == seen[len(seen)-1] || h.pos > start:
			return h.pos, nil // a gap later on is resolved on a later call
		}
		// A gap right at the horizon: fence, then everything read is final.
		if err := db.fence(ctx); err != nil {
			return 0, err
		}
		h.pos = seen[len(seen)-1]
	}
}

// fence waits until every transaction that had an id when it was called
// has ended. It takes a transaction id of its own (committed at once) as
// the mark, then waits until the oldest running transaction is younger.
func (db *DB) fence(ctx context.Context) error {
	var mark int64
	if err := db.pool.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&mark); err != nil {
		return fmt.Errorf("postgres: event fence: %w", err)
	}
	wait := 100 * time.Microsecond
	for {
		var xmin int64
		if err := db.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin); err != nil {
			return fmt.Errorf("postgres: event fence: %w", err)
		}
		if xmin > mark {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// EventList implements store.Store: it reads only settled events.
func (db *DB) EventList(ctx context.Context, p *store.EventListParams) ([]basalt.Event, error) {
	if !p.AllTenants && p.TenantID == "" {
		return nil, errNoTenant
	}
	through, err := db.settled(ctx)
	if err != nil {
		return nil, err
	}
	if through <= p.After {
		return nil, nil
	}
	s := sqlgen.EventList(filter.Postgres, p, through)
	tenant := p.TenantID
	if p.AllTenants {
		tenant = allTenants
	}
	var out []basalt.Event
	err = db.read(ctx, tenant, s.SQL, s.Args, func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				pos                  int64
				tenant, coll, id, op string
				rec                  []byte
				at                   time.Time
			)
			if err := rows.Scan(&pos, &tenant, &coll, &id, &op, &rec, &at); err != nil {
				return err
			}
			e, err := sqlgen.ScanEvent(pos, tenant, coll, id, op, rec, at)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", err)
	}
	return out, nil
}

// EventHead implements store.Store.
func (db *DB) EventHead(ctx context.Context) (int64, error) {
	return db.settled(ctx)
}

// The channels on which nodes notify each other: events says that the
// event log has grown, broadcast carries a realtime message (a broadcast
// or a presence change) as its payload. Notifications are per database,
// not per schema, so the names carry a hash of the schema: deployments in
// two schemas of one database never hear each other.
type channels struct{ events, broadcast string }

func channelsOf(schema string) channels {
	h := fnv.New64a()
	h.Write([]byte(schema))
	suffix := fmt.Sprintf("_%016x", h.Sum64())
	return channels{events: "basalt_events" + suffix, broadcast: "basalt_broadcast" + suffix}
}

// Notify tells every node listening (see Listen) that the log has grown.
// Call it after a commit; notifications are only a wake-up, so a lost
// one delays readers until their next poll and loses nothing.
func (db *DB) Notify(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `SELECT pg_notify($1, '')`, db.channels.events)
	return err
}

// Relay sends a realtime message to every node listening (see Listen),
// this one included. PostgreSQL takes payloads under 8000 bytes; the
// payload must be valid UTF-8 text without NUL. A node that is not
// listening at that moment misses it: realtime messages are best effort.
func (db *DB) Relay(ctx context.Context, payload []byte) error {
	_, err := db.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, db.channels.broadcast, string(payload))
	return err
}

// Listeners are what Listen calls.
type Listeners struct {
	// Wake: a node notified that the event log has grown, or
	// notifications may have been missed.
	Wake func()
	// Receive: a node relayed a realtime message.
	Receive func(payload []byte)
	// Up: whether the node is listening. While it is not, relayed
	// messages are lost to it, its own included.
	Up func(bool)
}

// Listen calls l's functions as notifications come, until ctx ends. It
// holds a connection of its own and reconnects after a failure, calling
// Wake then too (notifications may have been missed meanwhile; relayed
// messages missed meanwhile are lost).
func (db *DB) Listen(ctx context.Context, l Listeners, log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, l)
		l.Up(false)
		if ctx.Err() != nil {
			return
		}
		log.Warn("postgres: event notifications interrupted; reconnecting", "err", err)
		l.Wake()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (db *DB) listenOnce(ctx context.Context, l Listeners) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection leaves the pool: a LISTEN must not outlive its user.
	c := conn.Hijack()
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "LISTEN "+filter.Quote(db.channels.events)+"; LISTEN "+filter.Quote(db.channels.broadcast)); err != nil {
		return err
	}
	l.Up(true)
	l.Wake() // anything committed before the LISTEN took effect
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel == db.channels.broadcast {
			l.Receive([]byte(n.Payload))
			continue
		}
		l.Wake()
	}
}
