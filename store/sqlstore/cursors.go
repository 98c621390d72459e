package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/store"
)

// Cursors implements store.Cursors on a dbq.DB.
type Cursors struct {
	db dbq.DB
}

var _ store.Cursors = (*Cursors)(nil)

// NewCursors returns the cursor storage on db.
func NewCursors(db dbq.DB) *Cursors { return &Cursors{db: db} }

// CursorGet implements store.Cursors.
func (s *Cursors) CursorGet(ctx context.Context, name string) (int64, error) {
	var pos int64
	err := dbq.QueryRow(ctx, s.db, `SELECT position FROM _cursors WHERE name = ?`, []any{name}, &pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: get cursor %s: %w", name, err)
	}
	return pos, nil
}

// CursorLease implements store.Cursors. The conditional update is the
// claim: of two nodes claiming an expired lease at once, the second finds
// the row no longer matches (PostgreSQL re-checks the condition on the
// row the first one wrote; SQLite has one writer).
func (s *Cursors) CursorLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	d := s.db.Dialect()
	var n int64
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		_, err := tx.Exec(ctx, `INSERT INTO _cursors (name, position, holder, lease_until) VALUES (?, 0, '', ?) ON CONFLICT (name) DO NOTHING`,
			name, dbq.Time(d, time.Unix(0, 0)))
		if err != nil {
			return err
		}
		n, err = tx.Exec(ctx, `UPDATE _cursors SET holder = ?, lease_until = ? WHERE name = ? AND (holder = ? OR lease_until <= ?)`,
			holder, dbq.Time(d, until), name, holder, dbq.Time(d, now))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: lease cursor %s: %w", name, err)
	}
	return n == 1, nil
}

// CursorSet implements store.Cursors.
func (s *Cursors) CursorSet(ctx context.Context, name, holder string, pos int64) error {
	n, err := s.db.Exec(ctx, `UPDATE _cursors SET position = ? WHERE name = ? AND holder = ?`, pos, name, holder)
	if err != nil {
		return fmt.Errorf("sqlstore: set cursor %s: %w", name, err)
	}
	if n == 0 {
		return basalt.Errorf(basalt.CodeConflict, "The lease of cursor %q is not %s's.", name, holder)
	}
	return nil
}
