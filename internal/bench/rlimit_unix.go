//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// raiseOpenFiles raises the soft limit on open files to the hard limit,
// which the server started afterwards inherits, and fails when even that
// is below need: each stream is a socket on both sides.
func raiseOpenFiles(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: read the open files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("bench: raise the open files limit: %w", err)
		}
	}
	// Rlimit's fields are int64 on some systems (FreeBSD), uint64 on
	// others; a negative limit is none.
	if cur := lim.Cur; cur >= 0 && uint64(cur) < need {
		return fmt.Errorf("bench: the streams need about %d open files, and the limit is %d (raise the hard limit: ulimit -Hn)", need, cur)
	}
	return nil
}
