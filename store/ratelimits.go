package store

import (
	"context"
	"time"
)

// RateLimit is a rate-limit policy set through the admin API: Quota
// requests per Window, Burst at once, counted by By on the routes of
// Class (see package ratelimit for their values).
type RateLimit struct {
	Name    string
	By      string
	Class   string
	Quota   int
	Window  time.Duration // whole seconds
	Burst   int
	Updated time.Time
}

// RateLimits is the storage of rate-limit policies, shared by every
// node. It is deployment-wide, not tenant data.
type RateLimits interface {
	// RateLimitList returns every stored policy, by name.
	RateLimitList(ctx context.Context) ([]RateLimit, error)
	// RateLimitPut stores r, replacing the policy of the same name.
	RateLimitPut(ctx context.Context, r *RateLimit) error
	// RateLimitDelete removes the policy name. CodeNotFound.
	RateLimitDelete(ctx context.Context, name string) error
}
