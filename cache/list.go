package cache

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
)

// listKey names one list page by the statement that reads it: the SQL
// text and its arguments hold the tenant, the table, the filter joined
// with the caller's access rule, the keyset position, the sort and the
// limit. Two callers share a page only if their statements are the same,
// so callers whose rules differ never do.
type listKey struct {
	coll  string
	query string // the SQL text, a zero byte, then the arguments encoded
}

type listEntry struct {
	stamp uint64
	def   *basalt.Collection
	recs  []*basalt.Record
}

// statements are the list statements of one definition, built once.
type statements struct {
	def *basalt.Collection
	q   *sqlgen.Records
}

func (s *Store) statements(c *basalt.Collection) *sqlgen.Records {
	if v, ok := s.stmts.Load(c.Name); ok {
		if st := v.(*statements); st.def == c {
			return st.q
		}
	}
	q := sqlgen.NewRecords(s.Dialect(), c)
	s.stmts.Store(c.Name, &statements{c, q})
	return q
}

// RecordList implements store.Store from memory, then the shared cache,
// then the database. The records of a cached page are shared by every
// reader: callers must not change them or the slice.
func (s *Store) RecordList(ctx context.Context, p *store.RecordListParams) ([]*basalt.Record, error) {
	if s.lists == nil && s.shared == nil {
		return s.Store.RecordList(ctx, p)
	}
	stmt, err := s.statements(p.Collection).List(p)
	if err != nil {
		return nil, err
	}
	k := listKey{coll: p.Collection.Name, query: queryKey(stmt)}
	stamp := s.listStamp(p.TenantID, k.coll)
	local := s.localOK(ctx)
	if s.lists != nil && local {
		if e, ok := s.lists.GetIfPresent(k); ok && e.stamp == stamp && e.def == p.Collection {
			s.stats.lists.localHits.Add(1)
			return e.recs, nil
		}
		s.stats.lists.localMisses.Add(1)
	}
	var tag sharedTag
	if s.shared != nil {
		recs, t, ok := s.shared.getList(ctx, p.Collection, p.TenantID, k, &s.stats.lists)
		if ok {
			s.putList(k, stamp, p.Collection, recs)
			return recs, nil
		}
		tag = t
	}
	recs, err := s.Store.RecordList(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		r.KeepJSON(p.Collection)
	}
	s.putList(k, stamp, p.Collection, recs)
	if s.shared != nil && tag.ok {
		s.shared.setList(ctx, p.Collection, p.TenantID, k, tag, recs)
	}
	return recs, nil
}

func (s *Store) putList(k listKey, stamp uint64, c *basalt.Collection, recs []*basalt.Record) {
	if s.lists != nil {
		s.lists.Set(k, listEntry{stamp, c, recs[:len(recs):len(recs)]})
	}
}

// queryKey encodes a statement exactly: its text, then each argument
// with its type, so that no two statements that could select different
// rows share a key.
func queryKey(st sqlgen.Stmt) string {
	b := make([]byte, 0, len(st.SQL)+16*len(st.Args)+1)
	b = append(b, st.SQL...)
	b = append(b, 0)
	for _, a := range st.Args {
		b = appendArg(b, a)
	}
	return string(b)
}

func appendArg(b []byte, a any) []byte {
	switch v := a.(type) {
	case nil:
		return append(b, 'n')
	case string:
		b = append(b, 's')
		b = binary.AppendUvarint(b, uint64(len(v)))
		return append(b, v...)
	case []byte:
		b = append(b, 'b')
		b = binary.AppendUvarint(b, uint64(len(v)))
		return append(b, v...)
	case int64:
		return binary.AppendVarint(append(b, 'i'), v)
	case int:
		return binary.AppendVarint(append(b, 'i'), int64(v))
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'f'), math.Float64bits(v))
	case bool:
		if v {
			return append(b, 't')
		}
		return append(b, 'F')
	case time.Time:
		return binary.AppendVarint(append(b, 'T'), v.UnixNano())
	}
	// Any other argument type, by its Go syntax: exact for the value
	// types the filter compiler produces.
	s := fmt.Sprintf("%T:%#v", a, a)
	b = append(b, 'x')
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
