package auth

import (
	"context"
	"time"

	"basalt.dev/basalt"
)

// Live reports whether a principal's credential still holds: a user's
// session not revoked (as this node knows, within the revocation poll),
// an API key not revoked or expired (within the key cache's life). Open
// realtime streams ask it from time to time and end when it fails.
func Live(ctx context.Context, users *Users, keys *Keys, p *basalt.Principal) bool {
	switch {
	case p == nil:
		return true
	case p.Kind == "user":
		return users == nil || !users.revoke.has(p.Session)
	case p.Kind == "key" && keys != nil:
		sk, err := keys.lookup(ctx, p.ID)
		if err != nil {
			return basalt.ErrorCode(err) != basalt.CodeNotFound // a store error is not a verdict
		}
		return sk.Revoked.IsZero() && (sk.Expires.IsZero() || keys.now().Before(sk.Expires))
	}
	return true
}

// RevocationsChanged tells this node's users service that sessions were
// just revoked by another service (a member removed, a role changed, a
// tenant deleted): it reads the recent revocations before returning, so
// the sessions' access tokens stop working here at once. Other nodes
// learn within their poll interval.
func (u *Users) RevocationsChanged(ctx context.Context) {
	if err := u.revoke.read(ctx, u.now().Add(-time.Minute)); err != nil {
		u.log.Error("auth: read revoked sessions", "err", err)
	}
}
