package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/dbq"
)

// TicketPut implements store.Identity.
func (s *Identity) TicketPut(ctx context.Context, hash string, principal []byte, expires, now time.Time) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		if _, err := tx.Exec(ctx, `DELETE FROM _tickets WHERE expires <= ?`, s.t(now)); err != nil {
			return fmt.Errorf("sqlstore: expire tickets: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO _tickets (hash, principal, expires) VALUES (?, ?, ?)`,
			hash, dbq.JSON(s.db.Dialect(), principal), s.t(expires)); err != nil {
			return fmt.Errorf("sqlstore: put ticket: %w", err)
		}
		return nil
	})
}

// TicketTake implements store.Identity. The delete is the take: of two
// nodes redeeming one ticket at once, one deletes the row and the other
// finds none.
func (s *Identity) TicketTake(ctx context.Context, hash string, now time.Time) ([]byte, error) {
	var principal string
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		return dbq.QueryRow(ctx, tx, `DELETE FROM _tickets WHERE hash = ? AND expires > ? RETURNING principal`,
			[]any{hash, s.t(now)}, dbq.StringDest{S: &principal})
	})
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, basalt.Errorf(basalt.CodeNotFound, "The ticket is unknown, used or expired.")
		}
		return nil, fmt.Errorf("sqlstore: take ticket: %w", err)
	}
	return []byte(principal), nil
}
