//go:build unix

package spool

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory flock on f without waiting. flock locks belong to the open
// file description, so a second open in the same process conflicts too, and the kernel drops the
// lock when the process dies.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// heldElsewhere reports whether lockFile failed because another open file holds the lock.
func heldElsewhere(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN)
}

// unlock releases the lock; closing the descriptor is what releases it.
func (l *dirLock) unlock() error {
	return l.f.Close()
}
