//go:build windows

package spool

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// dirLock is an exclusive LockFileEx lock on the lock file. Windows locks belong to the handle, so a
// second open in the same process conflicts too, and the system drops the lock when the process dies.
type dirLock struct{ f *os.File }

// lockDir creates (if needed) and locks path without waiting. The lock file holds no data, so it is
// the one file we create without atomicfile: replacing it by rename would defeat the lock.
func lockDir(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err != nil {
		_ = f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

// unlock releases the lock explicitly before closing; closing alone also releases it, but only
// eventually, which would make an immediate re-Open fail.
func (l *dirLock) unlock() error {
	ol := new(windows.Overlapped)
	err := windows.UnlockFileEx(windows.Handle(l.f.Fd()), 0, 1, 0, ol)
	return errors.Join(err, l.f.Close())
}
