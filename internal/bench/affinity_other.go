//go:build !linux

package bench

// splitCPUs: processors are not divided outside Linux.
func splitCPUs(int) (string, []int, bool) { return "", nil, false }

func pinSelf([]int) error { return nil }
