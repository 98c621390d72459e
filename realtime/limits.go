package realtime

import "sync"

// Counter counts open connections by key (a principal, a tenant) and
// refuses one past a maximum.
type Counter struct {
	mu sync.Mutex
	n  map[string]int
}

// Acquire takes one connection for each key, each against its maximum
// (0: unlimited), all or none. It returns the key that is full, or "".
func (c *Counter) Acquire(keys []string, max []int) (full string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	for i, k := range keys {
		if max[i] > 0 && c.n[k] >= max[i] {
			return k
		}
	}
	for _, k := range keys {
		c.n[k]++
	}
	return ""
}

// Release gives back the connections Acquire took.
func (c *Counter) Release(keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if c.n[k]--; c.n[k] <= 0 {
			delete(c.n, k)
		}
	}
}
