package spool

import (
	"fmt"
	"os"
)

// dirLock is an exclusive lock on the lock file, taken by lockFile (flock in lock_unix.go, LockFileEx
// in lock_windows.go: both say what the lock belongs to and when the system drops it).
type dirLock struct{ f *os.File }

// lockDir creates (if needed) and locks path without waiting. The lock file holds no data, so it is
// the one file we create without atomicfile: replacing it by rename would defeat the lock.
func lockDir(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		if heldElsewhere(err) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}
