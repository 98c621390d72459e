package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlstore"
)

// CollectionList implements store.Store.
func (db *DB) CollectionList(ctx context.Context) ([]*basalt.Collection, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT definition FROM _collections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	defer rows.Close()
	var out []*basalt.Collection
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			return nil, fmt.Errorf("sqlite: list collections: %w", err)
		}
		c := new(basalt.Collection)
		if err := json.Unmarshal([]byte(def), c); err != nil {
			return nil, fmt.Errorf("sqlite: collection definition: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CollectionCreate implements store.Store.
func (db *DB) CollectionCreate(ctx context.Context, c *basalt.Collection, audit *store.AuditEntry) error {
	def, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlite: encode collection: %w", err)
	}
	return db.do(ctx, func(t *txn) error {
		_, err := t.execOnce(`INSERT INTO _collections (name, definition, created, updated) VALUES (?, ?, ?, ?)`,
			c.Name, string(def), basalt.FormatTime(c.Created), basalt.FormatTime(c.Updated))
		if err != nil {
			if basalt.ErrorCode(interpretError(err, nil)) == basalt.CodeConflict {
				return basalt.Errorf(basalt.CodeConflict, "A collection named %q already exists.", c.Name)
			}
			return fmt.Errorf("sqlite: insert collection %s: %w", c.Name, err)
		}
		for _, stmt := range sqlgen.CreateCollection(filter.SQLite, c) {
			if _, err := t.execOnce(stmt); err != nil {
				return fmt.Errorf("sqlite: create collection %s: %w", c.Name, err)
			}
		}
		if err := appendAudit(t, audit); err != nil {
			return err
		}
		t.afterCommit(func(rc *recordCache) { rc.dropCollection(c.Name) })
		return appendSchemaEvent(t, c, c)
	})
}

// CollectionUpdate implements store.Store.
func (db *DB) CollectionUpdate(ctx context.Context, p *store.CollectionUpdateParams) error {
	def, err := json.Marshal(p.New)
	if err != nil {
		return fmt.Errorf("sqlite: encode collection: %w", err)
	}
	return db.do(ctx, func(t *txn) error {
		res, err := t.execOnce(`UPDATE _collections SET definition = ?, updated = ? WHERE name = ?`,
			string(def), basalt.FormatTime(p.New.Updated), p.Old.Name)
		if err != nil {
			return fmt.Errorf("sqlite: update collection %s: %w", p.Old.Name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return basalt.Errorf(basalt.CodeNotFound, "No collection named %q.", p.Old.Name)
		}
		alter := sqlgen.Alter(filter.SQLite, p.Old, p.New, p.Renames)
		for _, s := range alter {
			if _, err := t.execOnce(s.SQL, s.Args...); err != nil {
				if e := interpretError(err, p.New); basalt.ErrorCode(e) == basalt.CodeConflict {
					return alterConflict(p.New, e)
				}
				return fmt.Errorf("sqlite: alter collection %s: %q: %w", p.Old.Name, s.SQL, err)
			}
		}
		if sqlgen.Rewrites(alter) {
			if err := sqlstore.UsageRecount(ctx, txnQueries{t}, filter.SQLite, p.New); err != nil {
				return err
			}
		}
		if err := appendAudit(t, p.Audit); err != nil {
			return err
		}
		t.afterCommit(func(rc *recordCache) { rc.dropCollection(p.New.Name) })
		return appendSchemaEvent(t, p.New, p.New)
	})
}

// alterConflict explains a unique index that existing records violate.
func alterConflict(c *basalt.Collection, err error) error {
	return &basalt.Error{Code: basalt.CodeConflict, Err: err,
		Message: fmt.Sprintf("Existing records of %s have duplicate values, so the unique field or index cannot be added; remove the duplicates first.", c.Name)}
}

// CollectionDelete implements store.Store.
func (db *DB) CollectionDelete(ctx context.Context, name string, audit *store.AuditEntry) error {
	return db.do(ctx, func(t *txn) error {
		res, err := t.execOnce(`DELETE FROM _collections WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("sqlite: delete collection %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return basalt.Errorf(basalt.CodeNotFound, "No collection named %q.", name)
		}
		c := &basalt.Collection{Name: name}
		if _, err := t.execOnce(sqlgen.DropCollection(c)); err != nil {
			return fmt.Errorf("sqlite: drop collection %s: %w", name, err)
		}
		if err := sqlstore.UsageDrop(ctx, txnQueries{t}, name); err != nil {
			return err
		}
		if err := appendAudit(t, audit); err != nil {
			return err
		}
		db.recs.Delete(name)
		t.afterCommit(func(rc *recordCache) { rc.dropCollection(name) })
		return appendSchemaEvent(t, c, nil)
	})
}

// appendSchemaEvent logs a change of definition: the event's record is
// the definition after the change, null after a delete.
func appendSchemaEvent(t *txn, c *basalt.Collection, after *basalt.Collection) error {
	e := &basalt.Event{Collection: c.Name, Op: basalt.OpSchema, Time: t.db.now().UTC()}
	if after != nil {
		def, err := json.Marshal(after)
		if err != nil {
			return fmt.Errorf("sqlite: encode collection: %w", err)
		}
		e.Record = def
	}
	_, err := appendEvent(t, e)
	return err
}

// appendAudit writes a, if not nil, in the transaction of the change.
func appendAudit(t *txn, a *store.AuditEntry) error {
	if a == nil {
		return nil
	}
	query, args := sqlstore.AuditInsert(filter.SQLite, a)
	if _, err := t.execOnce(query, args...); err != nil {
		return fmt.Errorf("sqlite: audit %s: %w", a.Action, err)
	}
	return nil
}
