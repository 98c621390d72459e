package auth

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// ticketPrefix marks a realtime ticket.
const ticketPrefix = "bst_"

// TicketTTL is how long a realtime ticket can wait to be used.
const TicketTTL = 60 * time.Second

// Tickets issues one-use, short-lived tickets that stand for a principal,
// for the clients that cannot send an Authorization header: a browser's
// EventSource and WebSocket. The ticket goes in the URL, so it must be
// worthless once used or a minute old: unlike an access token, a ticket
// copied from a log or a browser history opens nothing. Tickets live in
// the store, so any node redeems a ticket that another issued.
type Tickets struct {
	store store.Identity
	now   func() time.Time
}

// NewTickets returns the ticket service on s.
func NewTickets(s store.Identity, now func() time.Time) *Tickets {
	if now == nil {
		now = time.Now
	}
	return &Tickets{store: s, now: now}
}

// Issue returns a ticket for p and when it expires. Anonymous callers
// need no ticket.
func (t *Tickets) Issue(ctx context.Context, p *basalt.Principal) (string, time.Time, error) {
	if p == nil {
		return "", time.Time{}, basalt.Errorf(basalt.CodeUnauthenticated, "A ticket needs credentials: Authorization: Bearer <access token or API key>.")
	}
	data, err := json.Marshal(p)
	if err != nil {
		return "", time.Time{}, err
	}
	now := t.now()
	expires := now.Add(TicketTTL).UTC().Truncate(time.Microsecond)
	token, digest := newSecret(ticketPrefix)
	if err := t.store.TicketPut(ctx, digest, data, expires, now); err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

var errBadTicket = basalt.Errorf(basalt.CodeUnauthenticated, "The ticket is unknown, used or expired; get a new one from POST /api/realtime/tickets.")

// Redeem spends a ticket and returns the principal it stands for.
// CodeUnauthenticated if it is malformed, unknown, used or expired.
func (t *Tickets) Redeem(ctx context.Context, ticket string) (*basalt.Principal, error) {
	if !strings.HasPrefix(ticket, ticketPrefix) || len(ticket) > 100 {
		return nil, errBadTicket
	}
	data, err := t.store.TicketTake(ctx, hashSecret(ticket), t.now())
	if err != nil {
		if basalt.ErrorCode(err) == basalt.CodeNotFound {
			return nil, errBadTicket
		}
		return nil, err
	}
	p := new(basalt.Principal)
	if err := json.Unmarshal(data, p); err != nil {
		return nil, err
	}
	return p, nil
}
