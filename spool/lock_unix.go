//go:build unix

package spool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// dirLock is an exclusive advisory lock on the lock file. flock locks belong to the open file
// description, so a second open in the same process conflicts too, and the kernel drops the lock
// when the process dies.
type dirLock struct{ f *os.File }

// lockDir creates (if needed) and locks path without waiting. The lock file holds no data, so it is
// the one file we create without atomicfile: replacing it by rename would defeat the lock.
func lockDir(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := flock(f); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// unlock releases the lock; closing the descriptor is what releases it.
func (l *dirLock) unlock() error {
	return l.f.Close()
}
