package outboxclaim

import (
	"errors"
	"syscall"
)

// hide sets the hidden attribute, so the claim folders stay out of sight in Explorer (a dot alone
// hides nothing on Windows). A failure only leaves the folder visible.
func hide(path string) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return
	}
	attrs, err := syscall.GetFileAttributes(p)
	if err != nil {
		return
	}
	_ = syscall.SetFileAttributes(p, attrs|syscall.FILE_ATTRIBUTE_HIDDEN)
}

// Windows error codes of a rename refused because another handle has the file open.
const (
	errorSharingViolation syscall.Errno = 32
	errorLockViolation    syscall.Errno = 33
)

// inUse reports whether a rename failed only because the file is open elsewhere.
func inUse(err error) bool {
	return errors.Is(err, errorSharingViolation) || errors.Is(err, errorLockViolation)
}
