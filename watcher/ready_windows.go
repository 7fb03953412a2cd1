//go:build windows

package watcher

import (
	"errors"

	"golang.org/x/sys/windows"
)

// openableForRead reports whether the file can be opened for reading while
// denying write sharing. If the ERP still has it open for writing, CreateFile
// fails with ERROR_SHARING_VIOLATION (or ERROR_LOCK_VIOLATION for byte-range
// locks) and the file is not ready yet. Any other error (gone, access denied)
// is not a "still being written" signal; the caller's stat or the consumer
// reports it.
func openableForRead(path string) bool {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return true
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, windows.FILE_SHARE_READ, nil,
		windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return !errors.Is(err, windows.ERROR_SHARING_VIOLATION) &&
			!errors.Is(err, windows.ERROR_LOCK_VIOLATION)
	}
	_ = windows.CloseHandle(h)
	return true
}

// exclusiveOpenProvesDone: on Windows openableForRead fails while the writer still has the file
// open, so an event followed by a successful exclusive open is the writer-finished signal.
const exclusiveOpenProvesDone = true
