package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlstore"
	"github.com/jackc/pgx/v5"
)

// CollectionList implements store.Store.
func (db *DB) CollectionList(ctx context.Context) ([]*basalt.Collection, error) {
	rows, err := db.pool.Query(ctx, `SELECT definition::text FROM _collections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list collections: %w", err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: list collections: %w", err)
	}
	out := make([]*basalt.Collection, 0, len(defs))
	for _, def := range defs {
		c := new(basalt.Collection)
		if err := json.Unmarshal([]byte(def), c); err != nil {
			return nil, fmt.Errorf("postgres: collection definition: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// CollectionCreate implements store.Store.
func (db *DB) CollectionCreate(ctx context.Context, c *basalt.Collection, audit *store.AuditEntry) error {
	def, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("postgres: encode collection: %w", err)
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO _collections (name, definition, created, updated) VALUES ($1, $2, $3, $4)`,
			c.Name, def, c.Created, c.Updated)
		if err != nil {
			if basalt.ErrorCode(interpretError(err, nil)) == basalt.CodeConflict {
				return basalt.Errorf(basalt.CodeConflict, "A collection named %q already exists.", c.Name)
			}
			return fmt.Errorf("postgres: insert collection %s: %w", c.Name, err)
		}
		for _, stmt := range sqlgen.CreateCollection(filter.Postgres, c) {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("postgres: create collection %s: %w", c.Name, err)
			}
		}
		if err := appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		return db.appendSchemaEvent(ctx, tx, c.Name, c)
	})
}

// CollectionUpdate implements store.Store.
func (db *DB) CollectionUpdate(ctx context.Context, p *store.CollectionUpdateParams) error {
	def, err := json.Marshal(p.New)
	if err != nil {
		return fmt.Errorf("postgres: encode collection: %w", err)
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE _collections SET definition = $1, updated = $2 WHERE name = $3`, def, p.New.Updated, p.Old.Name)
		if err != nil {
			return fmt.Errorf("postgres: update collection %s: %w", p.Old.Name, err)
		}
		if tag.RowsAffected() == 0 {
			return basalt.Errorf(basalt.CodeNotFound, "No collection named %q.", p.Old.Name)
		}
		alter := sqlgen.Alter(filter.Postgres, p.Old, p.New, p.Renames)
		for _, s := range alter {
			if _, err := tx.Exec(ctx, s.SQL, s.Args...); err != nil {
				if e := interpretError(err, p.New); basalt.ErrorCode(e) == basalt.CodeConflict {
					return &basalt.Error{Code: basalt.CodeConflict, Err: err,
						Message: fmt.Sprintf("Existing records of %s have duplicate values, so the unique field or index cannot be added; remove the duplicates first.", p.New.Name)}
				}
				return fmt.Errorf("postgres: alter collection %s: %q: %w", p.Old.Name, s.SQL, err)
			}
		}
		if sqlgen.Rewrites(alter) {
			if err := sqlstore.UsageRecount(ctx, txQueries{tx}, filter.Postgres, p.New); err != nil {
				return err
			}
		}
		if err := appendAudit(ctx, tx, p.Audit); err != nil {
			return err
		}
		return db.appendSchemaEvent(ctx, tx, p.New.Name, p.New)
	})
}

// CollectionDelete implements store.Store.
func (db *DB) CollectionDelete(ctx context.Context, name string, audit *store.AuditEntry) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM _collections WHERE name = $1`, name)
		if err != nil {
			return fmt.Errorf("postgres: delete collection %s: %w", name, err)
		}
		if tag.RowsAffected() == 0 {
			return basalt.Errorf(basalt.CodeNotFound, "No collection named %q.", name)
		}
		if _, err := tx.Exec(ctx, sqlgen.DropCollection(&basalt.Collection{Name: name})); err != nil {
			return fmt.Errorf("postgres: drop collection %s: %w", name, err)
		}
		if err := sqlstore.UsageDrop(ctx, txQueries{tx}, name); err != nil {
			return err
		}
		if err := appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		db.recs.Delete(name)
		return db.appendSchemaEvent(ctx, tx, name, nil)
	})
}

// appendSchemaEvent logs a change of definition: the event's record is
// the definition after the change, null after a delete.
func (db *DB) appendSchemaEvent(ctx context.Context, tx pgx.Tx, name string, after *basalt.Collection) error {
	e := &basalt.Event{Collection: name, Op: basalt.OpSchema, Time: db.now().UTC()}
	if after != nil {
		def, err := json.Marshal(after)
		if err != nil {
			return fmt.Errorf("postgres: encode collection: %w", err)
		}
		e.Record = def
	}
	return appendEvent(ctx, tx, e)
}

// appendAudit writes a, if not nil, in the transaction of the change.
func appendAudit(ctx context.Context, tx pgx.Tx, a *store.AuditEntry) error {
	if a == nil {
		return nil
	}
	query, args := sqlstore.AuditInsert(filter.Postgres, a)
	if _, err := tx.Exec(ctx, dbq.Rebind(filter.Postgres, query), args...); err != nil {
		return fmt.Errorf("postgres: audit %s: %w", a.Action, err)
	}
	return nil
}
