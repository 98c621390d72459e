//go:build unix

package cputime

import "syscall"

// used returns the processor time of the process so far in nanoseconds.
func used() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
