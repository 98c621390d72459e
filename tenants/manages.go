package tenants

import "context"

// Manages returns nil when the caller manages tenant (an owner, an admin,
// or an admin key of the tenant), CodeForbidden for its other members and
// keys, and CodeNotFound for strangers, who learn nothing of it.
func (s *Service) Manages(ctx context.Context, tenant string) error {
	_, err := s.manager(ctx, tenant)
	return err
}
