package basalt

import "context"

type principalKey struct{}

// NewContext returns a context carrying the principal p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx, or nil for an anonymous request.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// TenantFrom returns the tenant a request acts in: the principal's tenant,
// or DefaultTenant for an anonymous request.
func TenantFrom(ctx context.Context) string {
	if p := PrincipalFrom(ctx); p != nil && p.TenantID != "" {
		return p.TenantID
	}
	return DefaultTenant
}

type ipKey struct{}

// WithClientIP returns a context carrying the client's address, for the
// audit trail.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

// ClientIP returns the client address of ctx, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(ipKey{}).(string)
	return ip
}
