package sqlgen

import (
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// EventInsert returns the statement that appends an event and returns its
// position.
func EventInsert(d filter.Dialect) string {
	return fmt.Sprintf(`INSERT INTO _events (tenant_id, collection, record_id, op, record, time) VALUES (%s, %s, %s, %s, %s, %s) RETURNING position`,
		d.Placeholder(1), d.Placeholder(2), d.Placeholder(3), d.Placeholder(4), d.Placeholder(5), d.Placeholder(6))
}

// EventArgs returns the parameters of EventInsert for e.
func EventArgs(d filter.Dialect, e *basalt.Event) []any {
	var rec any
	if e.Record != nil {
		rec = d.Arg(basalt.TypeJSON, e.Record)
	}
	return []any{e.TenantID, e.Collection, e.RecordID, string(e.Op), rec, d.Arg(basalt.TypeDate, e.Time)}
}

// EventColumns is the select list that ScanEvent reads.
const EventColumns = "position, tenant_id, collection, record_id, op, record, time"

// EventList returns the statement that reads events after p.After, up to
// and including position through.
func EventList(d filter.Dialect, p *store.EventListParams, through int64) Stmt {
	a := filter.Args{Dialect: d}
	where := ""
	if !p.AllTenants {
		where = "tenant_id = " + a.Add(p.TenantID) + " AND "
	}
	where += "position > " + a.Add(p.After) + " AND position <= " + a.Add(through)
	return Stmt{
		SQL:  fmt.Sprintf("SELECT %s FROM _events WHERE %s ORDER BY position LIMIT %s", EventColumns, where, a.Add(int64(p.Limit))),
		Args: a.Values,
	}
}

// NewEvent returns the event of a change to record r (nil for a schema
// change), with the record's JSON as clients see it.
func NewEvent(tenant string, c *basalt.Collection, op basalt.Op, r *basalt.Record, at time.Time) *basalt.Event {
	e := &basalt.Event{TenantID: tenant, Collection: c.Name, Op: op, Time: at.UTC()}
	if r != nil {
		e.RecordID = r.ID
		e.Record = basalt.AppendRecordJSON(nil, c, r, nil)
	}
	return e
}

// ScanEvent converts scanned event columns (EventColumns order).
func ScanEvent(pos int64, tenant, coll, id, op string, rec []byte, at any) (basalt.Event, error) {
	t, err := toTime(at)
	if err != nil {
		return basalt.Event{}, fmt.Errorf("sqlgen: event %d time: %w", pos, err)
	}
	e := basalt.Event{Position: pos, TenantID: tenant, Collection: coll, RecordID: id, Op: basalt.Op(op), Time: t}
	if rec != nil {
		e.Record = rec
	}
	return e, nil
}
