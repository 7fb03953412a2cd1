//go:build windows

package atomicfile

// SyncDir is a no-op on Windows: NTFS journals the rename (MoveFileEx) itself and directories cannot
// be opened for fsync.
func SyncDir(dir string) error { return nil }
