package records

import "basalt.dev/basalt/store"

// Quotas gives the records and bytes quotas of a tenant, which the store
// enforces in the transaction of each create and update (quota.Service
// implements it); nil when the tenant has none.
type Quotas interface {
	StorageQuota(tenant string) *store.Quota
}

// storageQuota returns the quota of a write in tenant, nil without one.
func (s *Service) storageQuota(tenant string) *store.Quota {
	if s.Quotas == nil {
		return nil
	}
	return s.Quotas.StorageQuota(tenant)
}
