//go:build !unix

package sqlite

// lockDir does nothing where flock is not available: run one server per
// data directory.
func lockDir(dir string) (func(), error) { return func() {}, nil }
