//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on the data directory for as long as
// the store is open, so that no second server writes behind its cache.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "basalt.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlite: another basalt server is using %s; stop it or choose another --data", dir)
		}
		return nil, fmt.Errorf("sqlite: lock data directory: %w", err)
	}
	return func() { f.Close() }, nil
}
