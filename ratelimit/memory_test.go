package ratelimit_test

import (
	"testing"

	"basalt.dev/basalt/ratelimit"
	"basalt.dev/basalt/ratelimit/ratelimittest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	m := ratelimit.NewMemory()
	ratelimittest.Run(t, func(*testing.T) ratelimit.Store { return m })
}
