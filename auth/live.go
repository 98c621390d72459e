package auth

import (
	"context"

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
