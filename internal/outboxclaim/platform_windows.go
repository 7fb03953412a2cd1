package outboxclaim

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
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

// inUse reports whether a rename failed only because the file is open elsewhere: by its writer,
// by another daemon checking that it is ready, or by another daemon renaming it at this moment.
func inUse(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

// renameExclusive moves a file into a claim folder so that at most one daemon can win it.
//
// os.Rename (MoveFileEx) is not enough on Windows: it opens the source with every sharing mode
// allowed and renames through that handle, and a handle follows its file. A second daemon whose
// MoveFileEx opened the outbox file just before ours renamed it would then move it on, out of our
// claim folder into its own, and both would have "claimed" it (under Wine the loser even met the
// winner's read with a sharing violation). Here the source is opened for DELETE while denying
// DELETE sharing, and renamed through that handle: while we hold it no other daemon can open it
// to rename it (sharing violation: it is skipped and, the file being gone from the outbox by
// the next listing, never retried), and if another daemon holds it, our open fails the same way.
// Without FILE_RENAME_REPLACE_IF_EXISTS a name already in the claim folder is never replaced.
func renameExclusive(from, to string) error {
	fail := func(err error) error { return &os.LinkError{Op: "rename", Old: from, New: to, Err: err} }
	src, err := windows.UTF16PtrFromString(from)
	if err != nil {
		return fail(err)
	}
	h, err := windows.CreateFile(src, windows.DELETE|windows.SYNCHRONIZE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		return fail(err)
	}
	defer windows.CloseHandle(h)
	info, size, err := renameInfo(to)
	if err != nil {
		return fail(err)
	}
	if err := windows.SetFileInformationByHandle(h, windows.FileRenameInfo, info, size); err != nil {
		return fail(err)
	}
	return nil
}

// renameInfo builds a FILE_RENAME_INFO naming the absolute target path: flags (4 bytes, 0: never
// replace), padding, RootDirectory (a HANDLE, none), FileNameLength in bytes, then the UTF-16 name.
func renameInfo(to string) (*byte, uint32, error) {
	abs, err := filepath.Abs(to)
	if err != nil {
		return nil, 0, err
	}
	name, err := windows.UTF16FromString(abs)
	if err != nil {
		return nil, 0, err
	}
	name = name[:len(name)-1] // the length is given; no terminator needed
	const nameOffset = 8 + unsafe.Sizeof(windows.Handle(0)) + 4
	size := nameOffset + uintptr(len(name))*2 + 2
	buf := make([]uint64, (size+7)/8) // uint64s: the handle field must be 8-byte aligned
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
	*(*uint32)(unsafe.Pointer(&b[nameOffset-4])) = uint32(len(name) * 2)
	copy(unsafe.Slice((*uint16)(unsafe.Pointer(&b[nameOffset])), len(name)), name)
	return &b[0], uint32(size), nil
}
