package outboxclaim

import "syscall"

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
