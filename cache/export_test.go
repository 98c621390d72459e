package cache

import "time"

// SetRetry sets how long a shared cache that failed waits before it
// tries Redis again.
func SetRetry(r *Redis, d time.Duration) { r.retry = d }
