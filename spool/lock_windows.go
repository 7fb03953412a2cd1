//go:build windows

package spool

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive LockFileEx lock on f without waiting. Windows locks belong to the
// handle, so a second open in the same process conflicts too, and the system drops the lock when
// the process dies.
func lockFile(f *os.File) error {
	ol := new(windows.Overlapped)
	return windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}

// heldElsewhere reports whether lockFile failed because another handle holds the lock.
func heldElsewhere(err error) bool {
	return errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

// unlock releases the lock explicitly before closing; closing alone also releases it, but only
// eventually, which would make an immediate re-Open fail.
func (l *dirLock) unlock() error {
	ol := new(windows.Overlapped)
	err := windows.UnlockFileEx(windows.Handle(l.f.Fd()), 0, 1, 0, ol)
	return errors.Join(err, l.f.Close())
}
