package records

import (
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// NewID returns a new record id: a ULID in lower case. Ids made later sort
// later, so the default order (by id) is creation order and inserts append
// to the end of the primary key.
func NewID(now time.Time) string {
	return strings.ToLower(ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String())
}
